"""Synthetic photo sets made from Fashion-MNIST test items, to measure what predict.py does with photos:
each item drawn larger on a canvas of another size and shape, with margins, a background of some level and
gradient, noise, saved as PNG or JPEG. ``python scripts/photos.py`` writes them and scores a model on each."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE


@dataclass(frozen=True)
class Style:
    """How one set's photos look; every range is drawn from uniformly, per photo."""

    dark_on_light: bool  # a dark garment on a light background (a product photo), or the dataset's way
    background: tuple[int, int]  # the background's mean level, 0–255
    gradient: tuple[float, float]  # how much the background level changes from one side to the other
    noise: float  # sensor noise, standard deviation in 0–255 levels
    margin: tuple[float, float]  # empty space on each side, as a fraction of the canvas
    canvas: tuple[int, int]  # the canvas's longer side, pixels
    format: str  # "png" or "jpeg"
    color: bool = True  # saved as RGB: a garment of some colour, a slightly warm background, as photos are


STYLES = {
    "dataset-28": Style(False, (0, 0), (0, 0), 0, (0, 0), (28, 28), "png", color=False),
    "dataset-large": Style(False, (0, 0), (0, 0), 0, (0.02, 0.2), (96, 320), "png", color=False),
    "dataset-dark-gray": Style(False, (15, 50), (0, 20), 3, (0.02, 0.2), (96, 320), "jpeg"),
    "product-png": Style(True, (225, 250), (0, 15), 2, (0.02, 0.2), (96, 320), "png"),
    "product-jpeg": Style(True, (225, 250), (0, 15), 2, (0.02, 0.2), (96, 320), "jpeg"),
    "product-gradient": Style(True, (190, 240), (20, 60), 4, (0.02, 0.2), (96, 320), "jpeg"),
    "product-tight": Style(True, (225, 250), (0, 15), 2, (0.0, 0.01), (96, 320), "jpeg"),
    "product-large": Style(True, (225, 250), (0, 15), 2, (0.05, 0.25), (800, 1600), "jpeg"),
}
JPEG_QUALITY = (70, 95)


def photo(item: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """One test item (uint8 28×28, light on black) as a photo in ``style``: uint8 [H, W] or [H, W, 3]."""
    from PIL import Image

    longer = int(rng.integers(style.canvas[0], style.canvas[1] + 1))
    shorter = longer if longer == IMAGE_SIZE else int(longer * rng.uniform(0.7, 1.0))
    height, width = (longer, shorter) if rng.random() < 0.5 else (shorter, longer)
    margin = rng.uniform(*style.margin)
    side = max(1, int(min(height, width) * (1 - 2 * margin)))  # the item's 28×28 frame, drawn square
    garment = np.asarray(Image.fromarray(item).resize((side, side), Image.Resampling.BICUBIC), np.float32)
    top = int(rng.integers(0, height - side + 1)) if height > side else 0
    left = int(rng.integers(0, width - side + 1)) if width > side else 0
    if margin > 0:  # keep the margin on every side
        top = min(max(top, int(margin * height)), height - side)
        left = min(max(left, int(margin * width)), width - side)
    amount = np.zeros((height, width), np.float32)
    amount[top : top + side, left : left + side] = garment[: height - top, : width - left] / 255.0
    level = _background(height, width, style, rng)
    image = level * (1 - amount) if style.dark_on_light else level + amount * (255 - level)
    image = image + rng.normal(0, style.noise, image.shape) if style.noise else image
    if style.color:  # the same brightness (luma), in colour: the garment's own, the background's warm
        luma = image.round().clip(0, 255).astype(np.uint8)
        hue = rng.uniform(-40, 40, 2)  # the garment's blue and red difference (Cb, Cr offsets)
        cb, cr = (128 + amount * hue[k] - (1 - amount) * (2, -3)[k] for k in range(2))
        planes = [Image.fromarray(c.round().clip(0, 255).astype(np.uint8)) for c in (cb, cr)]
        return np.asarray(Image.merge("YCbCr", [Image.fromarray(luma), *planes]).convert("RGB"))
    return image.round().clip(0, 255).astype(np.uint8)


def _background(height: int, width: int, style: Style, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height) - 0.5 * (np.cos(angle) + np.sin(angle))
    return rng.uniform(*style.background) + rng.uniform(*style.gradient) * ramp


def encode(image: np.ndarray, style: Style, rng: np.random.Generator) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    if style.format == "jpeg":
        Image.fromarray(image).save(out, "JPEG", quality=int(rng.integers(*JPEG_QUALITY)))
    else:
        Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def write_set(images: np.ndarray, labels: np.ndarray, name: str, folder: Path, seed: int) -> Path:
    """Photos of ``images`` in the style ``name`` under ``folder/name/``, with labels.csv (file,label)."""
    style, rng = STYLES[name], np.random.default_rng([seed, list(STYLES).index(name)])
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    suffix = "jpg" if style.format == "jpeg" else "png"
    rows = []
    for index, (item, label) in enumerate(zip(images, labels, strict=True)):
        file = f"{index:05d}.{suffix}"
        (target / file).write_bytes(encode(photo(item, style, rng), style, rng))
        rows.append((file, int(label)))
    with open(target / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return target


def test_items(data_dir: str, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The official test images (uint8 [10000, 28, 28]) and labels, found and verified as fit.py does,
    without torch."""
    from pixelsense.infer.arrays import read_idx
    from pixelsense.infer.labels import load_labels
    from pixelsense.train.sources import ensure_fashion_mnist

    raw = ensure_fashion_mnist(data_dir, download)
    labels = np.asarray(load_labels(str(raw / "t10k-labels-idx1-ubyte")))
    return read_idx(raw / "t10k-images-idx3-ubyte"), labels
