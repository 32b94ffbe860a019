"""Where a model looks and how its answer moves, without torch (what explain.py's report and the server's
page share)."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsense.infer import looks


def test_shifted_pictures_come_in_the_order_of_shifts_and_fill_with_black():
    picture = np.arange(1, 785, dtype=np.int64).reshape(28, 28)
    moved = looks.shifted(picture, reach=2)
    assert moved.shape == (25, 28, 28) and looks.shifts(2)[0] == (-2, -2) and looks.shifts(2)[12] == (0, 0)
    assert np.array_equal(moved[12], picture)  # the middle one is the picture itself
    down_left = moved[looks.shifts(2).index((2, -1))]
    assert np.array_equal(down_left[2:, :27], picture[:26, 1:]) and down_left[:2].sum() == 0
    assert looks.shift(picture, 0, 28).sum() == 0


def test_occlusion_map_finds_the_one_pixel_a_model_reads():
    picture = np.full((28, 28), 100, np.uint8)

    def watches_one_pixel(x: np.ndarray) -> np.ndarray:
        on = x[:, 5, 20].astype(np.float32) / 100
        return np.stack([on, 1 - on], 1)

    heat = looks.occlusion_map(watches_one_pixel, picture, label=0)
    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert heat[5, 20] == pytest.approx(1.0) and heat[5, 20] == heat.max() and heat[20, 5] == 0
    assert np.count_nonzero(heat) == 7 * 7  # every pixel a 4×4 square covering (5, 20) also covers
