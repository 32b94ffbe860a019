"""Plain JPEGs decoded by libjpeg-turbo (simplejpeg) straight to grayscale, at the DCT scale Pillow's
``draft`` would choose for the conversion: the same pixels as Pillow, in about half the time for a small
photo (Pillow parses a JPEG's header in Python). Whatever is not a plain JPEG goes to Pillow, which
also says what is wrong with a broken one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

try:
    import simplejpeg
except ImportError:  # an install without it decodes every JPEG with Pillow: slower, the same pixels
    simplejpeg = None

from pixelsense.infer import photo

SPACES = ("Gray", "YCbCr")  # colour spaces whose gray is their luma; Pillow converts CMYK and YCCK ones
SUFFIXES = (".jpg", ".jpeg")  # the names tried here (a JPEG named otherwise goes to Pillow: same pixels)
SOI, SOS, APP1 = 0xD8, 0xDA, 0xE1  # JPEG markers: start of image, start of scan, EXIF or XMP
READ = 1 << 16  # bytes read at once: a small photo in one system call
MOST = 64 << 20  # the most read whole here, more than a camera's photo; Pillow reads a larger file in blocks


def decode(source: str | Path | bytes, max_pixels: int) -> np.ndarray | None:
    """The JPEG at ``source`` (a path, or a file's bytes) as uint8 grayscale [height, width]
    (``photo.shrink``-ed), or None where Pillow must decode it: not named or not made as a JPEG, EXIF or XMP
    (an orientation may be there), another colour space, over ``max_pixels`` (refused by the caller), over
    MOST bytes (Pillow reads it in blocks), or anything libjpeg-turbo finds wrong, a lack of memory
    included."""
    if simplejpeg is None:
        return None
    if isinstance(source, bytes):  # in memory: what it is, is in its first bytes
        data = source if source[:2] == bytes((0xFF, SOI)) and len(source) <= MOST else None
    elif not str(source).lower().endswith(SUFFIXES):  # other formats: no file opened twice
        return None
    try:
        if not isinstance(source, bytes):
            data = _read(source)
        if data is None:
            return None
        height, width, space, _ = simplejpeg.decode_jpeg_header(data)
        if space not in SPACES or width * height > max_pixels or _has_metadata(data):
            return None
        least_width, least_height = _draft_size((width, height))
        pixels = simplejpeg.decode_jpeg(data, "GRAY", min_height=least_height, min_width=least_width)
    except (OSError, ValueError, MemoryError):  # Pillow decodes it by its own means, or says why it cannot
        return None
    return photo.shrink_array(pixels[:, :, 0])


def _read(path: str | Path) -> bytes | bytearray | None:
    """The file's bytes, or None (having read no more than its first READ bytes) where it does not start as
    a JPEG, or about MOST bytes where it is larger than that. Plain system calls: a Python file object costs
    more than a small JPEG's read. A read cut short (a network file system) is found by libjpeg-turbo,
    which is strict, and the file goes to Pillow."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # binary: Windows would change the bytes
    try:
        data = os.read(fd, READ)
        if data[:2] != bytes((0xFF, SOI)):
            return None
        if len(data) < READ:
            return data
        whole = bytearray(data)  # a larger file: the rest read onto it, so that memory holds it once
        while len(whole) <= MOST and (more := os.read(fd, 16 * READ)):
            whole += more
        return whole if len(whole) <= MOST else None
    finally:
        os.close(fd)


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's ``draft`` decodes a JPEG of ``size`` at for the conversion (a scale of 1, 1/2, 1/4
    or 1/8): asked for no less, libjpeg-turbo picks that scale too, so both give the same pixels."""
    wanted = photo.decode_size(size)
    most = min(size[0] // wanted[0], size[1] // wanted[1])
    scale = next(s for s in (8, 4, 2, 1) if most >= s)
    return -(-size[0] // scale), -(-size[1] // scale)


def _has_metadata(data: bytes) -> bool:
    """Whether the header (the segments before the first scan) holds an APP1 segment: EXIF or XMP, where
    a phone writes how the picture is turned. A header that does not parse counts as having some."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == SOS:
            return False
        if marker == APP1:
            return True
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return True
