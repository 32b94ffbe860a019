"""A photo of a garment → a Fashion-MNIST picture, the way the data set was made from product photos (Xiao,
Rasul & Vollgraf 2017, section 2): polarity from the border, background to black, trim to the object, longest
side to 28, sharpen, center on 28×28. numpy and Pillow only (predict never imports torch).

A picture already in dataset form (28×28) is only inverted when its polarity says so, never trimmed or
resized.
The background and the object's box are found on a copy at most ANALYSIS pixels wide; the object is then cut
from the full picture and resized once, so a large photo costs little more than decoding it.
"""

from __future__ import annotations

import functools

import numpy as np

from pixelsense.constants import IMAGE_SIZE

POLARITIES = ("auto", "on", "off")  # --invert: decide from the border, always invert, never invert
LIGHT_ON_DARK, DARK_ON_LIGHT = "light-on-dark", "dark-on-light"  # the polarity column of predict's output
DECODE = 2 * IMAGE_SIZE  # JPEGs are decoded at the smallest scale whose longer side keeps this many pixels
ANALYSIS = 128  # the longer side of the copy on which the background and the object's box are found
BORDER = 0.03  # the border ring that shows the background: this fraction of the shorter side, at least 1 px
NOISE_FLOOR = 12.0  # background-removed values below max(this, 4 noise sigmas) are background (0–255 scale)
SHARPEN = (1, 100, 0)  # Pillow UnsharpMask radius, percent, threshold, on the 28×28 result


def to_dataset_form(gray, invert: str = "auto") -> tuple[np.ndarray, str]:
    """A Pillow "L" image → (uint8 [28, 28] light garment on black, the polarity used)."""
    from PIL import Image, ImageFilter

    if gray.size == (IMAGE_SIZE, IMAGE_SIZE):  # dataset form: exactly as given, or its negative
        pixels = np.asarray(gray, dtype=np.uint8)
        used = _polarity(pixels[_ring(pixels.shape)[:2]], invert)
        return (255 - pixels if used == DARK_ON_LIGHT else pixels), used
    factor = -(-max(gray.size) // ANALYSIS)
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.float32)
    rows, cols, design = _ring(small.shape)
    used = _polarity(small[rows, cols], invert)
    light = 255.0 - small if used == DARK_ON_LIGHT else small
    plane, floor = _background(light[rows, cols], design)
    # light - background >= floor · (255 - background) / 255 holds above a plane too: the mask is one compare
    xs, ys = _centres(small.shape)
    keep = 1.0 - floor / 255.0
    box = _box(light >= (plane[0] * keep + floor) + plane[1] * keep * xs + plane[2] * keep * ys, gray.size)
    width, height = box[2] - box[0], box[3] - box[1]
    scale = IMAGE_SIZE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    crop = np.asarray(gray.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0), np.float32)
    light = 255.0 - crop if used == DARK_ON_LIGHT else crop
    # the plane at the resized crop's pixel centres (the plane's coordinates are fractions of the picture)
    xs = (box[0] + (np.arange(size[0]) + 0.5) * (width / size[0])) / gray.size[0]
    ys = (box[1] + (np.arange(size[1]) + 0.5) * (height / size[1])) / gray.size[1]
    background = plane[0] + plane[1] * xs[None, :] + plane[2] * ys[:, None]
    garment = (light - background) * (255.0 / np.maximum(255.0 - background, 32.0))
    garment[garment < floor] = 0.0
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    top, left = (IMAGE_SIZE - size[1]) // 2, (IMAGE_SIZE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = garment.round().clip(0, 255)
    return np.asarray(Image.fromarray(canvas).filter(ImageFilter.UnsharpMask(*SHARPEN))), used


def decode_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask a JPEG decoder for (Pillow's ``draft``): DECODE pixels on the longer side."""
    scale = min(1.0, DECODE / max(size))
    return max(1, int(size[0] * scale)), max(1, int(size[1] * scale))


def _polarity(border: np.ndarray, invert: str) -> str:
    """Forced by ``invert`` ("on"/"off"), or ("auto") a light border (its median over mid-grey) means a dark
    garment on a light background, as in the product photos the data set was made from."""
    if invert != "auto":
        return DARK_ON_LIGHT if invert == "on" else LIGHT_ON_DARK
    return DARK_ON_LIGHT if 2 * np.count_nonzero(border > 127.5) > border.size else LIGHT_ON_DARK


@functools.lru_cache(maxsize=256)
def _ring(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The border ring's rows and columns (BORDER of the shorter side, at least 1 pixel wide), and the
    design matrix [1, x, y] of a plane through them, x and y as fractions of the picture."""
    width = max(1, round(BORDER * min(shape)))
    ring = np.zeros(shape, bool)
    ring[:width] = ring[-width:] = True
    ring[:, :width] = ring[:, -width:] = True
    rows, cols = np.nonzero(ring)
    return rows, cols, np.stack([np.ones(len(rows)), (cols + 0.5) / shape[1], (rows + 0.5) / shape[0]])


@functools.lru_cache(maxsize=256)
def _centres(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres as fractions of the picture: x [1, W], y [H, 1]."""
    height, width = shape
    return ((np.arange(width) + 0.5) / width)[None, :], ((np.arange(height) + 0.5) / height)[:, None]


def _background(values: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, float]:
    """A plane a + b·x + c·y through the border's pixels (uneven lighting goes with the background),
    fitted to those within 3 sigmas of the border's median (not the garment where it touches the border);
    and the level below which a pixel is background once the plane is removed (0–255, after stretching)."""
    middle, sigma = _spread(values)
    keep = design * (np.abs(values - middle) <= max(3.0 * sigma, 8.0))
    plane = _solve3((keep @ design.T).tolist(), (keep @ values).tolist())
    noise = _spread(values - plane @ design)[1]
    centre = plane[0] + 0.5 * (plane[1] + plane[2])  # the background's level in the middle of the picture
    return plane, max(NOISE_FLOOR, 4.0 * noise * 255.0 / max(255.0 - centre, 32.0))


def _spread(values: np.ndarray) -> tuple[float, float]:
    """Median and a robust standard deviation (from the quartiles): blind to a garment on the border."""
    n = values.size
    low, middle, high = np.partition(values, [n // 4, n // 2, 3 * n // 4])[[n // 4, n // 2, 3 * n // 4]]
    return float(middle), float(high - low) / 1.349


def _solve3(a: list[list[float]], b: list[float]) -> np.ndarray:
    """x with a·x = b for a 3×3 system, by Cramer's rule (np.linalg.solve costs more than the whole fit)."""

    def det(m: list[list[float]]) -> float:
        return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))  # fmt: skip

    whole = det(a) or 1e-12
    columns = [[[b[r] if c == k else a[r][c] for c in range(3)] for r in range(3)] for k in range(3)]
    return np.array([det(m) / whole for m in columns])


def _box(mask: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The smallest box (left, top, right, bottom) of the full picture (``size``) around the mask's 2×2
    blocks (a lone noisy pixel is not the garment); the whole picture when there are none."""
    blocks = mask[:-1, :-1] & mask[1:, :-1] & mask[:-1, 1:] & mask[1:, 1:]
    rows, cols = np.flatnonzero(blocks.any(1)), np.flatnonzero(blocks.any(0))
    if not len(rows):
        return (0, 0, *size)
    fy, fx = size[1] / mask.shape[0], size[0] / mask.shape[1]
    return (int(cols[0] * fx), int(rows[0] * fy),
            min(size[0], round((cols[-1] + 2) * fx)), min(size[1], round((rows[-1] + 2) * fy)))  # fmt: skip
