"""Rows of tests/test_bad_inputs.py: files whose names are not what they are. predict.py reads each input,
and --labels, as its first bytes say (``pixelsense.formats``), the name deciding only where they do not; and
what Pillow warns of metadata it skips does not reach the user unnamed."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
from bad_inference import OUT, bad, write
from conftest import idx_bytes
from PIL import Image

PICTURE = np.arange(28 * 28, dtype=np.uint32).reshape(28, 28).astype(np.uint8)
THREE = np.stack([PICTURE, PICTURE[::-1], PICTURE.T])


def _encoded(format: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(PICTURE).save(out, format=format, **options)
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _tiff_with_broken_tags() -> bytes:
    """A TIFF whose resolution tags claim more data than the file holds: Pillow skips them, and warns."""
    data = bytearray(_encoded("TIFF", dpi=(72, 72)))
    ifd = int.from_bytes(data[4:8], "little")
    for entry in range(int.from_bytes(data[ifd : ifd + 2], "little")):
        at = ifd + 2 + 12 * entry
        if int.from_bytes(data[at : at + 2], "little") in (282, 283):  # XResolution, YResolution
            data[at + 4 : at + 8] = (1000).to_bytes(4, "little")
    return bytes(data)


def _rows(count: int, polarity: str | None = None):
    """A ``then``: out.csv holds ``count`` predictions, nothing on stderr but predict.py's own lines."""

    def then(tmp: Path, err: str) -> None:
        rows = (tmp / "out.csv").read_text().splitlines()[1:]
        assert len(rows) == count, rows
        assert all(line.startswith("predict.py: ") for line in err.splitlines() if line.strip()), err

    return then


ROWS = [
    bad(
        "png-whose-name-says-idx3",
        ("{tmp}/scan-idx3.png", *OUT),
        0,
        "",
        write("scan-idx3.png", _encoded("PNG")),
        changes=("out.csv",),
        then=_rows(1),
    ),
    bad(
        "webp",
        ("{tmp}/shirt.webp", *OUT),
        0,
        "",
        write("shirt.webp", _encoded("WEBP", lossless=True)),
        changes=("out.csv",),
        then=_rows(1),
    ),
    bad(
        "png-with-no-suffix",
        ("{tmp}/picture", *OUT),
        0,
        "",
        write("picture", _encoded("PNG")),
        changes=("out.csv",),
        then=_rows(1),
    ),
    bad(
        "idx-gz-by-another-name",
        ("{tmp}/test.dat", *OUT),
        0,
        "",
        write("test.dat", gzip.compress(idx_bytes(THREE))),
        changes=("out.csv",),
        then=_rows(3),
    ),
    bad(
        "npy-named-png",
        ("{tmp}/a.png", *OUT),
        0,
        "",
        write("a.png", _npy(THREE)),
        changes=("out.csv",),
        then=_rows(3),
    ),
    bad(
        "tiff-whose-tags-pillow-skips",
        ("{tmp}/t.tif", "--workers", "1", *OUT),
        0,
        "",
        write("t.tif", _tiff_with_broken_tags()),
        changes=("out.csv",),
        then=_rows(1),
    ),
    bad(
        "labels-csv-named-txt",
        ("{tmp}/a.png", "--labels", "{tmp}/l.txt", *OUT),
        0,
        "",
        lambda t: (write("a.png", _encoded("PNG"))(t), write("l.txt", "a.png,3\n")(t)),
        changes=("out.csv",),
        then=_rows(1),
    ),
    bad(
        "labels-idx-gz-named-bin",
        ("{tmp}/x.npy", "--labels", "{tmp}/l.bin", *OUT),
        0,
        "",
        lambda t: (
            write("x.npy", THREE)(t),
            write("l.bin", gzip.compress(idx_bytes(np.array([1, 2, 3], np.uint8))))(t),
        ),
        changes=("out.csv",),
        then=_rows(3),
    ),
]
