"""Where a model looks, and how its answer moves with the picture, without torch: the occlusion map and the
shifted pictures, on uint8 pictures in the data set's form ``[..., 28, 28]`` and any ``predict`` (uint8
``[N, 28, 28]`` → probabilities ``[N, 10]``: onnxruntime's, or torch's through explain.py). explain.py's
report and the server's page both use these, so they agree."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pixelsense.constants import IMAGE_SIZE

Predict = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] → probabilities [N, 10]
DIRECTIONS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
OCCLUSION_PATCH = 4  # side of the black square slid over the picture for occlusion sensitivity
REACH = 4  # the server's shifted predictions: every shift from -REACH to +REACH pixels in y and in x


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Pictures ``[..., H, W]`` moved ``dy`` pixels down and ``dx`` right; what comes in is black (0)."""
    h, w = images.shape[-2:]
    out = np.zeros_like(images)
    if abs(dy) < h and abs(dx) < w:
        out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
            ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def shifts(reach: int = REACH) -> list[tuple[int, int]]:
    """Every (dy, dx) from -reach to +reach, row by row: the order of ``shifted``."""
    return [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]


def shifted(picture: np.ndarray, reach: int = REACH) -> np.ndarray:
    """One picture ``[28, 28]`` at every shift of ``shifts(reach)``: ``[(2 reach + 1)², 28, 28]``."""
    return np.stack([shift(picture, dy, dx) for dy, dx in shifts(reach)])


def occlusion_map(
    predict: Predict, picture: np.ndarray, label: int, patch: int = OCCLUSION_PATCH
) -> np.ndarray:
    """How much the probability of ``label`` drops when a black ``patch``×``patch`` square covers each pixel
    (the mean over every square position that covers it): float32 ``[28, 28]``, positive where the model
    looks."""
    starts = range(IMAGE_SIZE - patch + 1)
    corners = [(i, j) for i in starts for j in starts]
    batch = np.repeat(picture[None], len(corners), axis=0)
    covered = np.zeros((len(corners), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for k, (i, j) in enumerate(corners):
        batch[k, i : i + patch, j : j + patch] = 0
        covered[k, i : i + patch, j : j + patch] = 1
    drop = predict(picture[None])[0, label] - predict(batch)[:, label]
    return ((drop[:, None, None] * covered).sum(0) / covered.sum(0)).astype(np.float32)
