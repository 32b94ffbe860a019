""".npy arrays are read with plain reads: a file cut short while it is read is one reason, not a SIGBUS."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pixelsense.infer.arrays import read_npy
from pixelsense.infer.chunk import Unreadable


@pytest.mark.parametrize("shape", [(40, 28, 28), (40, 1, 28, 28)])
def test_an_array_cut_short_while_it_is_read_fails_in_one_line(tmp_path, shape):
    path = tmp_path / "a.npy"
    array = np.arange(np.prod(shape), dtype=np.uint32).astype(np.uint8).reshape(shape)
    np.save(path, array)
    chunks = read_npy(path, 16)
    first = next(chunks)
    assert first.images.shape == (16, 28, 28) and (first.images == array[:16].reshape(16, 28, 28)).all()
    os.truncate(
        path, os.path.getsize(path) - 20 * 784
    )  # another program cuts it: reading the map was a SIGBUS
    with pytest.raises(Unreadable, match="was cut short while it was read"):
        list(chunks)
