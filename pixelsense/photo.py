"""Photos of garments → Fashion-MNIST pictures, the way the data set was made from product photos (Xiao,
Rasul & Vollgraf 2017, section 2): polarity from the border, background to black, trim to the object, longest
side to 28, sharpen, center on 28×28. numpy and Pillow only (predict never imports torch).

A picture already in dataset form (28×28) is only inverted when its polarity says so, never trimmed or
resized. The background and the garment's box are found for a batch of photos at once, on a GRID × GRID
copy of each; then each garment is cut from its photo and resized once.
"""

from __future__ import annotations

import functools

import numpy as np

from pixelsense.constants import IMAGE_SIZE

POLARITIES = ("auto", "on", "off")  # --invert: decide from the border, always invert, never invert
LIGHT_ON_DARK, DARK_ON_LIGHT = "light-on-dark", "dark-on-light"  # the polarity column of predict's output
DECODE = 2 * IMAGE_SIZE  # JPEGs are decoded at the smallest scale whose longer side keeps this many pixels
GRID = 64  # the background and the garment's box are found on a GRID × GRID area-resized copy of each photo
BORDER = 2  # pixels of the grid's border that show the background
NOISE_FLOOR = 12.0  # background-removed values below max(this, 4 noise sigmas) are background (0–255 scale)
SHARPEN = 1.0  # unsharp mask on the 28×28 result: Gaussian sigma (pixels), at 100 %


def decode_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask a JPEG decoder for (Pillow's ``draft``): DECODE pixels on the longer side."""
    scale = min(1.0, DECODE / max(size))
    return max(1, int(size[0] * scale)), max(1, int(size[1] * scale))


def to_dataset_form(grays: list, invert: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Pillow "L" images → (uint8 [n, 28, 28] light garments on black, the polarity used for each)."""
    out = np.zeros((len(grays), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    used = [LIGHT_ON_DARK] * len(grays)
    photos = []
    for index, gray in enumerate(grays):
        if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
            photos.append(index)
            continue
        pixels = np.asarray(gray, dtype=np.uint8)  # dataset form: exactly as given, or its negative
        used[index] = _polarity(pixels[_ring(IMAGE_SIZE)[:2]][None], invert)[0]
        out[index] = 255 - pixels if used[index] == DARK_ON_LIGHT else pixels
    if photos:
        out[photos], dark = _photos([grays[i] for i in photos], invert)
        for index, flag in zip(photos, dark.tolist(), strict=True):
            used[index] = DARK_ON_LIGHT if flag else LIGHT_ON_DARK
    return out, used


def _photos(grays: list, invert: str) -> tuple[np.ndarray, np.ndarray]:
    """The conversion of photos (any size but 28×28): uint8 [n, 28, 28], and which were inverted."""
    from PIL import Image

    grid = np.stack([np.asarray(g.resize((GRID, GRID), Image.Resampling.BOX)) for g in grays])
    dark, plane, floor, boxes = _analyse(grid, invert)
    canvas, xs, ys, inside = _cut(grays, boxes)
    light = np.where(dark[:, None, None], 255.0 - canvas, canvas)
    background = plane[:, 0, None, None] + plane[:, 1, None, None] * xs[:, None, :]
    background = background + plane[:, 2, None, None] * ys[:, :, None]
    garment = (light - background) * (255.0 / np.maximum(255.0 - background, 32.0))  # white stays white
    garment[(garment < floor[:, None, None]) | ~inside] = 0.0
    return _sharpen(garment.round().clip(0, 255)), dark


def _analyse(grid: np.ndarray, invert: str) -> tuple[np.ndarray, ...]:
    """On the photos' GRID × GRID copies: which are dark on light, their background planes, the level
    below which a pixel is background, and the garments' boxes (fractions: left, top, right, bottom)."""
    rows, cols, design = _ring(GRID)
    border = grid[:, rows, cols].astype(np.float32)
    dark = _polarity(border, invert) == DARK_ON_LIGHT
    plane, floor = _background(np.where(dark[:, None], 255 - border, border), design)
    # light - background >= floor · (255 - background) / 255 is a compare against another plane; made in
    # the grid's own polarity (a dark garment lies below its plane), so no inverted copy is needed
    threshold = plane * (1.0 - floor / 255.0)[:, None]
    threshold[:, 0] += floor
    sign = np.where(dark, -1.0, 1.0)[:, None]
    threshold = (threshold * sign).astype(np.float32)
    threshold[:, 0] += np.where(dark, 255.0, 0.0)
    centres = ((np.arange(GRID) + 0.5) / GRID).astype(np.float32)
    surface = threshold[:, 0, None, None] + threshold[:, 1, None, None] * centres
    surface = surface + threshold[:, 2, None, None] * centres[:, None]
    signs = sign.astype(np.float32)[:, :, None]
    return dark, plane, floor, _boxes(grid * signs >= surface * signs)


def _cut(grays: list, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each garment cut from its photo, resized once to 28 on its longest side and centered: the canvases
    [n, 28, 28], where each canvas pixel's centre lies in its photo (x [n, 28], y [n, 28], fractions: the
    background planes' coordinates), and which canvas pixels hold the garment [n, 28, 28]."""
    from PIL import Image

    canvas = np.zeros((len(grays), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    placed = np.zeros((len(grays), 8))  # per photo: box (left, top, right, bottom), size (w, h), left, top
    for i, gray in enumerate(grays):
        width, height = gray.size
        box = (int(boxes[i, 0] * width), int(boxes[i, 1] * height),
               max(1, round(boxes[i, 2] * width)), max(1, round(boxes[i, 3] * height)))  # fmt: skip
        scale = IMAGE_SIZE / max(box[2] - box[0], box[3] - box[1], 1)
        size = (max(1, round((box[2] - box[0]) * scale)), max(1, round((box[3] - box[1]) * scale)))
        top, left = (IMAGE_SIZE - size[1]) // 2, (IMAGE_SIZE - size[0]) // 2
        crop = gray.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
        canvas[i, top : top + size[1], left : left + size[0]] = np.asarray(crop)
        placed[i] = (*box, *size, left, top)
    whole = np.array([g.size for g in grays], np.float64)[:, :, None]
    steps = np.arange(IMAGE_SIZE) + 0.5
    start, end, size, corner = (placed[:, k : k + 2, None] for k in (0, 2, 4, 6))
    xs, ys = np.moveaxis((start + (steps - corner) * ((end - start) / size)) / whole, 1, 0)
    inside = (steps >= corner) & (steps < corner + size)  # [n, 2 (x, y), 28]
    return canvas, xs, ys, inside[:, 1, :, None] & inside[:, 0, None, :]


def _polarity(border: np.ndarray, invert: str) -> np.ndarray:
    """Per picture (border [n, k]): forced by ``invert`` ("on"/"off"), or ("auto") a light border (median
    over mid-grey) means a dark garment on a light background, as in the product photos of the data set."""
    if invert != "auto":
        return np.full(len(border), DARK_ON_LIGHT if invert == "on" else LIGHT_ON_DARK)
    light = 2 * np.count_nonzero(border > 127.5, axis=1) > border.shape[1]
    return np.where(light, DARK_ON_LIGHT, LIGHT_ON_DARK)


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
    gram = np.einsum("nk,ik,jk->nij", weights, design, design) + 1e-6 * np.eye(3)
    plane = np.linalg.solve(gram, np.einsum("nk,ik,nk->ni", weights, design, values)[..., None])[..., 0]
    noise = _spread(values - plane @ design)[1]
    centre = plane[:, 0] + 0.5 * (plane[:, 1] + plane[:, 2])  # the background's level in the middle
    return plane, np.maximum(NOISE_FLOOR, 4.0 * noise * 255.0 / np.maximum(255.0 - centre, 32.0))


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the median and a robust standard deviation (from the quartiles), blind to a garment on the
    border."""
    k = values.shape[1]
    quartiles = np.partition(values, [k // 4, k // 2, 3 * k // 4], axis=1)
    return quartiles[:, k // 2], (quartiles[:, 3 * k // 4] - quartiles[:, k // 4]) / 1.349


def _boxes(mask: np.ndarray) -> np.ndarray:
    """Per mask [n, s, s]: the smallest box around its 2×2 blocks (a lone noisy pixel is not the garment),
    as fractions (left, top, right, bottom); the whole picture when there is none."""
    blocks = mask[:, :-1, :-1] & mask[:, 1:, :-1] & mask[:, :-1, 1:] & mask[:, 1:, 1:]
    side = mask.shape[1]
    rows, cols = blocks.any(2), blocks.any(1)
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
    taps = np.arange(-3, 4)
    kernel = np.exp(-(taps**2) / (2 * SHARPEN**2))
    kernel /= kernel.sum()
    padded = np.pad(images, ((0, 0), (3, 3), (3, 3)), mode="edge")
    across = sum(w * padded[:, :, 3 + t : 3 + t + IMAGE_SIZE] for w, t in zip(kernel, taps, strict=True))
    blurred = sum(w * across[:, 3 + t : 3 + t + IMAGE_SIZE] for w, t in zip(kernel, taps, strict=True))
    return (2 * images[:, :, :] - blurred).round().clip(0, 255).astype(np.uint8)
