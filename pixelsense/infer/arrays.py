"""IDX image files (plain or .gz) and .npy arrays: checked from their headers and whole before any row, then
streamed as Chunks with bounded memory. They are in dataset form already, so they are read as they are."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE
from pixelsense.formats import IDX_IMAGES, gzipped
from pixelsense.infer import photo
from pixelsense.infer.chunk import Chunk, Unreadable

PIXELS = IMAGE_SIZE * IMAGE_SIZE
AS_GIVEN = photo.LIGHT_ON_DARK  # IDX files and .npy arrays are in dataset form: read as they are


def open_idx(path: Path):
    return (gzip.open if gzipped(path) else open)(path, "rb")


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy file declares, read from its header alone: ValueError (with the reason)
    when the header is not a valid one, the file holds Python objects, or its header promises more bytes
    than the file holds. The one place a header is checked: what passes here, np.load can map."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                               np.lib.format.read_array_header_2_0)(f)  # fmt: skip
        except OSError:
            raise  # a failed read, which each caller words
        except Exception as err:  # numpy's parser lets a malformed header raise what Python's tokenizer does
            if not f.tell():
                raise ValueError("is empty") from None
            said = isinstance(err, (ValueError, EOFError))  # numpy's reasons, cut: some quote the header
            raise _not_npy(str(err).splitlines()[0][:120] if said else "its header does not parse") from None
        have = os.fstat(f.fileno()).st_size - f.tell()
    # numpy checks that the shape holds ints, not that an array can have it: np.load would overflow
    if any(n < 0 for n in shape) or math.prod(n for n in shape if n) * max(dtype.itemsize, 1) >= 2**63:
        raise _not_npy(f"its header says shape {tuple(shape)}, which no array has")
    if dtype.hasobject:
        raise ValueError("holds pickled Python objects, which are never loaded; save plain arrays")
    need = math.prod(shape) * dtype.itemsize
    if need > have:
        raise ValueError(f"is truncated: its header says shape {tuple(shape)} ({need:,} bytes), the file "
                         f"holds {have:,}")  # fmt: skip
    return tuple(shape), dtype


def _not_npy(why: str) -> ValueError:
    return ValueError(f"is not a .npy array ({why}); save it with numpy.save")


def read_npy(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        npy_header(path)  # its reasons are worded for the user
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise Unreadable(str(err)) from None
    except (OSError, EOFError) as err:
        raise Unreadable(f"cannot be read as a .npy array ({err})") from None
    rows = _reader(path, array)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise Unreadable(f"has shape {tuple(array.shape)}; need N×28×28 or N×1×28×28")
    floats = np.issubdtype(array.dtype, np.floating)
    if len(array) == 0:
        raise Unreadable("holds no images")
    if array.dtype != np.uint8 and not floats:
        raise Unreadable(f"has dtype {array.dtype}; need uint8 0–255 or float 0–1")
    for start in range(0, len(array), chunk) if floats else ():  # check everything before predicting any
        part = rows(start, min(start + chunk, len(array)))
        if not np.isfinite(part).all():
            raise Unreadable("contains NaN or infinite values")
        if part.size and (part.min() < 0 or part.max() > 1):
            raise Unreadable("has float values outside 0–1")
    for start in range(0, len(array), chunk):
        part = rows(start, min(start + chunk, len(array)))
        images = (part * 255.0).round().astype(np.uint8) if floats else part
        yield Chunk(_sources(path, start, len(part)), images, [AS_GIVEN] * len(part))


def _reader(path: Path, array: np.memmap):
    """Images ``[start, stop)`` of the array file, as uint8 or float [n, 28, 28]: read with plain reads, not
    through the map, where the array is in C order. A file cut short meanwhile (by another program) is then a
    short read, said in one line, not a SIGBUS that kills the process and leaves a partial output."""
    if not array.flags.c_contiguous or not isinstance(array, np.memmap):  # Fortran order: as it is mapped
        return lambda start, stop: np.asarray(array[start:stop]).reshape(stop - start, IMAGE_SIZE, IMAGE_SIZE)
    row = array.itemsize * math.prod(array.shape[1:])

    def read(start: int, stop: int) -> np.ndarray:
        try:
            with open(path, "rb") as f:
                f.seek(array.offset + start * row)
                data = f.read((stop - start) * row)
        except OSError as err:
            raise Unreadable(f"cannot be read ({err.strerror or err})") from None
        if len(data) < (stop - start) * row:
            raise Unreadable("was cut short while it was read (changed by another program); read it again")
        return np.frombuffer(data, array.dtype).reshape(stop - start, IMAGE_SIZE, IMAGE_SIZE)

    return read


def _sources(path: Path, start: int, count: int) -> list[str]:
    """The source column of images ``start`` onwards of the array file ``path``: "path:index"."""
    prefix = f"{path}:"  # made once: a Path's str() per image costs more than the row it names
    return [prefix + str(index) for index in range(start, start + count)]


def read_idx_chunks(path: Path, chunk: int) -> Iterator[Chunk]:
    """Checked whole first (as .npy files are), so a corrupt file gives no rows at all: a plain file by its
    size against its header, a .gz by reading it through once (its length and CRC are known only then)."""
    if gzipped(path):
        for _ in _idx_chunks(path, chunk):
            pass
    else:
        try:
            with open(path, "rb") as f:
                header, size = f.read(16), os.fstat(f.fileno()).st_size
        except OSError as err:
            raise Unreadable(f"cannot be read ({err})") from None
        count, rows, cols = struct.unpack(">III", header[4:]) if len(header) == 16 else (0, 0, 0)
        if header[:4] == IDX_IMAGES and rows == cols == IMAGE_SIZE and size > 16 + count * PIXELS:
            raise Unreadable(f"has data after its {count} images: not a clean IDX file")
    yield from _idx_chunks(path, chunk)


def _idx_chunks(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        with open_idx(path) as f:
            header = f.read(16)
            if header[:4] != IDX_IMAGES[: len(header)]:
                raise Unreadable("is not an IDX image file (bad magic number)")
            if len(header) < 16:  # the right magic number, cut short: a truncated file, not a foreign one
                raise Unreadable(f"is truncated: {len(header)} bytes, too short for an IDX header (16)")
            count, rows, cols = struct.unpack(">III", header[4:])
            if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
                raise Unreadable(f"holds {rows}×{cols} images; need 28×28")
            if count == 0:
                raise Unreadable("holds no images")
            size = None if isinstance(f, gzip.GzipFile) else os.fstat(f.fileno()).st_size
            if size is not None and size < 16 + count * PIXELS:  # known from the header, before any read
                got = (size - 16) // PIXELS
                raise Unreadable(f"is truncated: the header says {count} images, the file holds {got}")
            for start in range(0, count, chunk):
                want = min(chunk, count - start)
                data = f.read(want * PIXELS)
                if len(data) < want * PIXELS:
                    got = start + len(data) // PIXELS
                    raise Unreadable(f"is truncated: the header says {count} images, the file holds {got}")
                images = np.frombuffer(data, np.uint8).reshape(want, IMAGE_SIZE, IMAGE_SIZE)
                yield Chunk(_sources(path, start, want), images, [AS_GIVEN] * want)
            if f.read(1):  # also makes gzip check its CRC
                raise Unreadable(f"has data after its {count} images: not a clean IDX file")
    except (OSError, EOFError, zlib.error) as err:
        raise Unreadable(f"cannot be read ({err})") from None


def read_idx(path: Path) -> np.ndarray:
    """A whole IDX image file as uint8 [n, 28, 28]; ValueError (its reason) when it cannot be used."""
    try:
        return np.concatenate([chunk.images for chunk in read_idx_chunks(path, 10_000)])
    except Unreadable as bad:
        raise ValueError(f"{path} {bad}") from None
