"""What reading an input gives: a Chunk of images in dataset form, or the one reason it cannot be used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Chunk:
    """Consecutive images of the inputs, as the model takes them, and where each came from."""

    sources: list[str]  # per image: its file, or "file:index" for a row of an IDX file or array
    images: np.ndarray  # uint8 [k, 28, 28]
    polarities: list[str]  # per image, photo.LIGHT_ON_DARK or photo.DARK_ON_LIGHT: how it was read
    probabilities: np.ndarray | None = None  # float [k, classes], where a decoding worker predicted them


class Unreadable(Exception):
    """The reason one input cannot be used."""
