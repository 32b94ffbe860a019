"""Inputs for onnxruntime inference, without torch: image files, folders, globs, IDX image files and .npy
arrays, streamed in order as uint8 ``[k, 28, 28]`` Chunks with bounded memory. A bad input becomes a Failure
(its source and one reason) and the others go on."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pixelsense.formats import IDX_IMAGES, kind_of
from pixelsense.infer.arrays import npy_header, open_idx, read_idx_chunks, read_npy
from pixelsense.infer.chunk import Chunk, Unreadable
from pixelsense.paths import Failure


def read_all(items: Iterable[Path | Failure], chunk: int, images: Callable) -> Iterator[Chunk | Failure]:
    """Every item's images in order; ``images`` turns a list of image files into single-image Chunks and
    Failures, in order (``decoding.Decoder``: in this process or a pool)."""
    files: list[Path] = []  # image files in a row go together, so that a pool has work to share
    for item in items:
        kind = "" if isinstance(item, Failure) else kind_of(item)
        if kind == "image":
            files.append(item)
            continue
        if files:
            yield from images(files)
            files = []
        if isinstance(item, Failure):
            yield item
            continue
        try:
            if kind == "npy":
                yield from read_npy(item, chunk)
            elif kind == "idx":
                yield from read_idx_chunks(item, chunk)
            else:
                yield Failure(str(item), "not an image, IDX or .npy file")
        except Unreadable as bad:
            yield Failure(str(item), str(bad))
    if files:
        yield from images(files)


def count(items: Iterable[Path | Failure]) -> int:
    """How many images ``items`` hold, from file names and IDX/.npy headers alone (a progress total);
    inputs that cannot be read count 0 here and fail later with their reason."""
    total = 0
    for item in items:
        kind = "" if isinstance(item, Failure) else kind_of(item)
        try:
            if kind == "npy":
                shape = npy_header(item)[0]
                total += shape[0] if shape else 0
            elif kind == "idx":
                with open_idx(item) as f:
                    header = f.read(8)
                total += struct.unpack(">I", header[4:8])[0] if header[:4] == IDX_IMAGES else 0
            elif kind == "image":
                total += 1
        except (OSError, EOFError, ValueError, struct.error, zlib.error):
            continue
    return total
