"""Photos of garments → Fashion-MNIST pictures, the way the data set was made from product photos (Xiao,
Rasul & Vollgraf 2017, section 2): polarity from the border, background to black, trim to the object, longest
side to 28, sharpen, center on 28×28. numpy and Pillow only (predict never imports torch).

A picture already in dataset form (28×28) is only inverted when its polarity says so, never trimmed or
resized. The background and the garment's box are found for a batch of photos at once, on a GRID × GRID
lattice sampled from each; then each garment is cut from its photo and resized once (Lanczos weights, two
matrix products).
"""

from __future__ import annotations

import functools

import numpy as np

from pixelsense.constants import IMAGE_SIZE

POLARITIES = ("auto", "on", "off")  # --invert: decide from the border, always invert, never invert
LIGHT_ON_DARK, DARK_ON_LIGHT = "light-on-dark", "dark-on-light"  # the polarity column of predict's output
DECODE = 2 * IMAGE_SIZE  # photos are decoded or reduced to the least size whose longer side keeps this many
GRID = 64  # the background and the garment's box are found on a GRID × GRID lattice from each photo (≤ 64)
BORDER = 2  # pixels of the grid's border that show the background
NOISE_FLOOR = 12.0  # background-removed values below max(this, 4 noise sigmas) are background (0–255 scale)
SHARPEN = 1.0  # unsharp mask on the 28×28 result: Gaussian sigma (pixels), at 100 %


def decode_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask a JPEG decoder for (Pillow's ``draft``): DECODE pixels on the longer side."""
    scale = min(1.0, DECODE / max(size))
    return max(1, int(size[0] * scale)), max(1, int(size[1] * scale))


def shrink(gray):
    """A Pillow image reduced (box averages) to under 2 × DECODE pixels on its longer side, as a JPEG is
    decoded: the conversion needs no more, and a decoding worker then holds no large image."""
    return gray.reduce(max(gray.size) // DECODE) if max(gray.size) >= 2 * DECODE else gray


def shrink_array(pixels: np.ndarray) -> np.ndarray:
    """``shrink`` for uint8 grayscale [height, width] (Pillow's reduce, so the same pixels)."""
    if max(pixels.shape) < 2 * DECODE:
        return pixels
    from PIL import Image

    return np.asarray(shrink(Image.fromarray(pixels)))


def to_dataset_form(grays: list[np.ndarray], invert: str = "auto") -> tuple[np.ndarray, list[str]]:
    """uint8 grayscale pictures [height, width] → (uint8 [n, 28, 28] light garments on black, the polarity
    used for each)."""
    out = np.zeros((len(grays), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    used = [LIGHT_ON_DARK] * len(grays)
    photos = []
    for index, pixels in enumerate(grays):
        if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE):
            photos.append(index)
            continue
        used[index] = _polarity(pixels[_ring(IMAGE_SIZE)[:2]][None], invert)[0]
        out[index] = 255 - pixels if used[index] == DARK_ON_LIGHT else pixels  # dataset form: as given
    if photos:
        out[photos], dark = _photos([grays[i] for i in photos], invert)
        for index, flag in zip(photos, dark.tolist(), strict=True):
            used[index] = DARK_ON_LIGHT if flag else LIGHT_ON_DARK
    return out, used


def _photos(grays: list, invert: str) -> tuple[np.ndarray, np.ndarray]:
    """The conversion of photos (any size but 28×28): uint8 [n, 28, 28], and which were inverted."""
    batch, sizes = _stack(grays)
    dark, plane, floor, boxes = _analyse(_grid(batch, sizes), invert)
    canvas, xs, ys, inside = _cut(batch, sizes, boxes)
    light = _negated(canvas, dark)
    background = plane[:, 0, None, None] + plane[:, 1, None, None] * xs[:, None, :]
    background = background + plane[:, 2, None, None] * ys[:, :, None]
    garment = (light - background) * (255.0 / np.maximum(255.0 - background, 32.0))  # white stays white
    garment[(garment < floor[:, None, None]) | ~inside] = 0.0
    return _sharpen(garment.round().clip(0, 255)), dark


def _stack(grays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The photos (``shrink``-ed, if they are not yet) as one zero-padded uint8 array [n, side, side], and
    their sizes [n, 2] (width, height)."""
    small = [shrink_array(pixels) for pixels in grays]
    side = max(max(pixels.shape) for pixels in small)
    batch = np.zeros((len(small), side, side), np.uint8)
    for index, pixels in enumerate(small):
        batch[index, : pixels.shape[0], : pixels.shape[1]] = pixels
    return batch, np.array([pixels.shape[::-1] for pixels in small])


def _grid(batch: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each photo sampled on a GRID × GRID lattice of its own (nearest pixel): uint8 [n, GRID, GRID]."""
    n, side = len(batch), batch.shape[1]
    centres = (np.arange(GRID) + 0.5) / GRID
    cols, rows = (np.floor(centres * sizes[:, k, None]).astype(np.intp) for k in (0, 1))
    starts = (np.arange(n)[:, None] * side + rows) * side  # where each sampled row starts in the batch
    return batch.reshape(-1)[starts[:, :, None] + cols[:, None, :]]


def _analyse(grid: np.ndarray, invert: str) -> tuple[np.ndarray, ...]:
    """On the photos' GRID × GRID copies: which are dark on light, their background planes, the level
    below which a pixel is background, and the garments' boxes (fractions: left, top, right, bottom)."""
    rows, cols, design = _ring(GRID)
    border = grid[:, rows, cols].astype(np.float32)
    dark = _polarity(border, invert) == DARK_ON_LIGHT
    plane, floor = _background(_negated(border, dark), design)
    # light - background >= floor · (255 - background) / 255 is a compare against another plane
    threshold = (plane * (1.0 - floor / 255.0)[:, None]).astype(np.float32)
    threshold[:, 0] += floor
    centres = ((np.arange(GRID) + 0.5) / GRID).astype(np.float32)
    surface = threshold[:, 0, None, None] + threshold[:, 1, None, None] * centres
    surface = surface + threshold[:, 2, None, None] * centres[:, None]
    light = grid ^ (dark * np.uint8(255))[:, None, None]  # 255 - v, as bits: the cheapest uint8 negation
    return dark, plane, floor, _boxes(light >= surface)


def _cut(batch: np.ndarray, sizes: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each garment cut from its photo, resized (Lanczos) to 28 on its longest side and centered: the
    canvases [n, 28, 28], where each canvas pixel's centre lies in its photo (x [n, 28], y [n, 28], fractions:
    the background planes' coordinates), and which canvas pixels hold the garment [n, 28, 28]. The resize is
    two matrix products per photo, a weight matrix per axis, as Pillow's resampling computes them."""
    start = np.floor(boxes[:, :2] * sizes)  # [n, 2 (x, y)], pixels
    end = np.maximum(1.0, np.round(boxes[:, 2:] * sizes))
    scale = IMAGE_SIZE / np.maximum((end - start).max(1), 1.0)
    size = np.maximum(1.0, np.round((end - start) * scale[:, None]))
    corner = (IMAGE_SIZE - size) // 2
    steps = np.arange(IMAGE_SIZE) + 0.5
    along = start[:, :, None] + (steps - corner[:, :, None]) * ((end - start) / size)[:, :, None]
    inside = (steps >= corner[:, :, None]) & (steps < (corner + size)[:, :, None])  # [n, 2 (x, y), 28]
    across, down = (_lanczos(along[:, k], (end - start)[:, k] / size[:, k], sizes[:, k], inside[:, k],
                             batch.shape[1]) for k in (0, 1))  # fmt: skip
    canvas = down @ batch.astype(np.float32) @ across.transpose(0, 2, 1)
    xs, ys = np.moveaxis(along / sizes[:, :, None], 1, 0)
    return canvas, xs, ys, inside[:, 1, :, None] & inside[:, 0, None, :]


def _lanczos(centres: np.ndarray, scale: np.ndarray, length: np.ndarray, inside: np.ndarray,
             side: int) -> np.ndarray:  # fmt: skip
    """Resampling weights [n, 28, side] along one axis, as Pillow computes them: canvas pixel i takes
    source pixel j with weight w[i, j], a Lanczos-3 kernel around the source position ``centres`` [n, 28]
    of its centre, stretched by ``scale`` when shrinking, cut to the photo's ``length`` pixels, each row
    summing to 1; rows outside the garment (``inside`` false) are 0. Only the taps near each centre are
    computed, then placed."""
    stretch = np.maximum(scale, 1.0)[:, None, None]
    reach = int(np.ceil(3.0 * stretch.max())) + 1  # taps on either side of a centre
    centres = np.where(inside, centres, 0.0)  # rows outside the garment get no weight: keep them in range
    pixels = np.floor(centres).astype(np.intp)[:, :, None] + np.arange(-reach, reach + 1)  # [n, 28, taps]
    x = ((pixels - centres[:, :, None] + 0.5) / stretch).astype(np.float32)
    y = np.float32(np.pi) * np.where(x == 0, np.float32(1e-6), x)
    weights = 3.0 * np.sin(y) * np.sin(y / 3.0) / (y * y)  # sinc(x) · sinc(x / 3)
    weights *= (np.abs(x) < 3.0) & (pixels >= 0) & (pixels < length[:, None, None])
    total = weights.sum(2, keepdims=True)
    weights *= inside[:, :, None] / np.where(total == 0, 1.0, total)
    width = side + 2 * reach + 1  # room for the taps past either end
    dense = np.zeros((len(centres), IMAGE_SIZE, width), np.float32)
    first = (np.arange(len(centres) * IMAGE_SIZE) * width + reach).reshape(len(centres), IMAGE_SIZE, 1)
    dense.reshape(-1)[first + pixels] = weights  # a row's taps are distinct pixels
    return dense[:, :, reach : reach + side]


def _polarity(border: np.ndarray, invert: str) -> np.ndarray:
    """Per picture (border [n, k]): forced by ``invert`` ("on"/"off"), or ("auto") a light border (median
    over mid-grey) means a dark garment on a light background, as in the product photos of the data set."""
    if invert != "auto":
        return np.full(len(border), DARK_ON_LIGHT if invert == "on" else LIGHT_ON_DARK)
    light = 2 * np.count_nonzero(border > 127.5, axis=1) > border.shape[1]
    return np.where(light, DARK_ON_LIGHT, LIGHT_ON_DARK)


def _negated(values: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Float ``values`` [n, ...] as 255 − value where ``dark`` [n] is true: the same floats as ``255 - v``,
    without np.where's slow broadcast."""
    flip = dark.reshape((-1,) + (1,) * (values.ndim - 1))
    return values * (1 - 2 * flip).astype(values.dtype) + (255 * flip).astype(values.dtype)


@functools.lru_cache(maxsize=4)
def _ring(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows and columns of a square picture's BORDER-pixel ring, and the design matrix [1, x, y] [3, k]
    of a plane through them, x and y as fractions of the picture."""
    ring = np.zeros((side, side), bool)
    ring[:BORDER] = ring[-BORDER:] = True
    ring[:, :BORDER] = ring[:, -BORDER:] = True
    rows, cols = np.nonzero(ring)
    return rows, cols, np.stack([np.ones(len(rows)), (cols + 0.5) / side, (rows + 0.5) / side])


def _background(values: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per picture, a plane a + b·x + c·y through its border's pixels ``values`` [n, k] (uneven lighting
    goes with the background), fitted to those within 3 sigmas of the border's median (so not to the
    garment where it touches the border); and the level below which a pixel is background once the plane
    is removed (0–255, after stretching)."""
    middle, sigma = _spread(values)
    keep = np.abs(values - middle[:, None]) <= np.maximum(3.0 * sigma, 8.0)[:, None]
    weights = keep / 1.0
    products = (design[:, None] * design[None]).reshape(9, -1)  # [9, k]: design[i] · design[j]
    gram = (weights @ products.T).reshape(-1, 3, 3) + 1e-6 * np.eye(3)
    plane = np.linalg.solve(gram, ((weights * values) @ design.T)[..., None])[..., 0]
    noise = _spread(values - plane @ design)[1]
    centre = plane[:, 0] + 0.5 * (plane[:, 1] + plane[:, 2])  # the background's level in the middle
    return plane, np.maximum(NOISE_FLOOR, 4.0 * noise * 255.0 / np.maximum(255.0 - centre, 32.0))


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the median and a robust standard deviation (from the quartiles), blind to a garment on the
    border."""
    k = values.shape[1]
    ordered = np.sort(values, axis=1)  # faster than a partition at three places (a vectorised sort)
    return ordered[:, k // 2], (ordered[:, 3 * k // 4] - ordered[:, k // 4]) / 1.349


def _boxes(mask: np.ndarray) -> np.ndarray:
    """Per mask [n, s, s] (s ≤ 64): the smallest box around its 2×2 blocks (a lone noisy pixel is not the
    garment), as fractions (left, top, right, bottom); the whole picture when there is none. A mask's rows are
    64-bit words (bit c: column c), so that its blocks are a shift and two ANDs, a word a row."""
    n, side = mask.shape[:2]
    words = np.zeros((n, side, 8), np.uint8)
    words[:, :, : -(-side // 8)] = np.packbits(mask, axis=2, bitorder="little")
    lines = words.view("<u8")[:, :, 0]
    pairs = lines & (lines >> np.uint64(1))  # bit c: columns c and c + 1
    blocks = pairs[:, :-1] & pairs[:, 1:]  # [n, s - 1], bit c of row r: the block at (r, c) is whole
    across = np.bitwise_or.reduce(blocks, axis=1).astype("<u8").view(np.uint8).reshape(n, 8)
    rows = blocks != 0
    cols = np.unpackbits(across, axis=1, bitorder="little")[:, : side - 1].astype(bool)
    first_row, first_col = rows.argmax(1), cols.argmax(1)
    last_row, last_col = side - 2 - rows[:, ::-1].argmax(1), side - 2 - cols[:, ::-1].argmax(1)
    boxes = np.stack([first_col, first_row, last_col + 2, last_row + 2], 1) / side
    boxes[~rows.any(1)] = (0.0, 0.0, 1.0, 1.0)
    return boxes


def _sharpen(images: np.ndarray) -> np.ndarray:
    """Unsharp mask (image + image − Gaussian blur), edges extended, as Pillow's UnsharpMask(radius=SHARPEN,
    percent=100) does, on a batch: uint8 [n, 28, 28]. SHARPEN 0: none."""
    if not SHARPEN:
        return images.astype(np.uint8)
    blur = _blur(SHARPEN)
    return (2 * images - blur @ images @ blur.T).round().clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=2)
def _blur(sigma: float) -> np.ndarray:
    """The Gaussian blur of a 28-pixel line (7 taps, edges extended) as a matrix [28, 28]."""
    taps = np.arange(-3, 4)
    kernel = np.exp(-(taps**2) / (2 * sigma**2))
    matrix = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
    for weight, tap in zip(kernel / kernel.sum(), taps, strict=True):
        np.add.at(
            matrix, (np.arange(IMAGE_SIZE), np.clip(np.arange(IMAGE_SIZE) + tap, 0, IMAGE_SIZE - 1)), weight
        )
    return matrix
