"""--labels files: a header's declared count is checked against the inputs before the body is read."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from bad_inference import _labels_bomb

from pixelsense.infer.labels import LabelError, load_labels


def test_a_small_gz_declaring_100_million_labels_is_refused_from_its_header(tmp_path):
    _labels_bomb(tmp_path)  # 97 KB on disk, 100 MB inflated: read whole, it took 1.8 GB as a list of ints
    path = str(tmp_path / "l-idx1-ubyte.gz")
    assert (tmp_path / "l-idx1-ubyte.gz").stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(
            LabelError, match=r"holds 100,000,000 labels, but the inputs hold at most 12 images"
        ):
            load_labels(path, most=12)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak


def test_labels_within_what_the_inputs_hold_load_and_npy_is_checked_from_its_header_too(tmp_path):
    np.save(tmp_path / "l.npy", np.arange(10) % 10)
    assert load_labels(str(tmp_path / "l.npy"), most=10) == list(range(10))
    with pytest.raises(LabelError, match=r"l\.npy: holds 10 labels, but the inputs hold at most 9 images"):
        load_labels(str(tmp_path / "l.npy"), most=9)
