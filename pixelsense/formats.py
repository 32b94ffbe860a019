"""What an input file is, told by its first bytes (its magic number); the name decides only where the bytes
do not (a file that cannot be read, or one of no known format, which then fails with the reason its reader
gives). A PNG named ``scan-idx3.png`` is an image, a WebP an image, an IDX file named ``a.png`` an IDX file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

IDX_IMAGES = b"\x00\x00\x08\x03"  # the magic number of an IDX file of uint8 images (3 dimensions)
IDX_LABELS = b"\x00\x00\x08\x01"  # the magic number of an IDX file of uint8 labels (1 dimension)
NPY = b"\x93NUMPY"
GZIP = b"\x1f\x8b"
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}  # the sizes of a BMP's info header, after "BM" and 12 bytes
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
HEAD = 32  # bytes read to tell a format


def kind_of(path: Path) -> str:
    """How an input file is read: "npy", "idx", "image", or "" for none of these."""
    head = _head(path)
    if head.startswith(NPY):
        return "npy"
    if head.startswith(IDX_IMAGES) or (head.startswith(GZIP) and _gunzipped(path).startswith(IDX_IMAGES)):
        return "idx"
    if is_image(head):
        return "image"
    return named(path)


def labels_kind(path: Path) -> str:
    """How a --labels file is read: "npy", "idx" (raw or .gz) or "csv" (raw or .gz)."""
    head = _head(path)
    if head.startswith(NPY):
        return "npy"
    if head.startswith(IDX_LABELS) or (head.startswith(GZIP) and _gunzipped(path).startswith(IDX_LABELS)):
        return "idx"
    if head.startswith((GZIP, b"\x00")):  # a .gz of text, or binary that is no format: as its name says
        return "csv" if path.name.lower().endswith((".csv", ".csv.gz")) else "idx"
    return "csv"


def gzipped(path: Path) -> bool:
    """Whether the file is a gzip stream, whatever its name."""
    return _head(path).startswith(GZIP)


def is_image(head: bytes) -> bool:
    """Whether a file's first bytes are those of an image format Pillow reads."""
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return True
    return head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in BMP_HEADERS


def named(path: Path) -> str:
    """The kind a file's name alone gives: "npy", "idx", "image" or ""."""
    name = path.name.lower()
    if name.endswith(".npy"):
        return "npy"
    dot = name.rfind(".")  # the suffix as Path.suffix has it (".png" is a name, not a suffix)
    if 0 < dot < len(name) - 1 and name[dot:] in IMAGE_SUFFIXES:
        return "image"
    return "idx" if "idx3" in name or name.endswith((".idx", ".idx.gz")) else ""


def _head(path: Path) -> bytes:
    """The file's first HEAD bytes (b"" where it cannot be read: its reader says why). Plain system calls:
    this runs once per input file, and a Python file object costs twice as much."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, HEAD)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _gunzipped(path: Path) -> bytes:
    """The first bytes of a .gz file's content (b"" where it does not decompress)."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read(8)
    except (OSError, EOFError, zlib.error):
        return b""
