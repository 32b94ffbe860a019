"""Inputs for onnxruntime inference, without torch: image files, folders, globs, IDX image files and .npy
arrays, streamed as uint8 ``[k, 28, 28]`` chunks with bounded memory. A bad input becomes a Failure (its
source and one reason) and the others go on."""

from __future__ import annotations

import gzip
import itertools
import math
import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelsense import jpeg, photo
from pixelsense.constants import IMAGE_SIZE
from pixelsense.paths import Failure, kind_of

PIXELS = IMAGE_SIZE * IMAGE_SIZE
PLAIN = ("JPEG", "PNG", "BMP", "GIF")  # formats that keep an orientation only in EXIF or XMP metadata
AS_GIVEN = photo.LIGHT_ON_DARK  # IDX files and .npy arrays are in dataset form: read as they are
IDX_IMAGES = b"\x00\x00\x08\x03"  # the magic number of an IDX file of uint8 images
MAX_PIXELS = 50_000_000  # the largest image decoded (width × height); a larger one is refused from its header


@dataclass
class Chunk:
    sources: list[str]
    images: np.ndarray  # uint8 [k, 28, 28]
    polarities: list[str]  # per image, photo.LIGHT_ON_DARK or photo.DARK_ON_LIGHT: how it was read
    probabilities: np.ndarray | None = None  # float [k, classes], where a decoding worker predicted them


def _open_idx(path: Path):
    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb")


def read_all(items: Iterable[Path | Failure], chunk: int, images: Callable) -> Iterator[Chunk | Failure]:
    """Every item's images in order; ``images`` turns a list of image files into single-image Chunks and
    Failures, in order (``decoding.Decoder``: in this process or a pool)."""
    files: list[Path] = []  # image files in a row go together, so that a pool has work to share
    for item in items:
        if isinstance(item, Path) and kind_of(item) == "image":
            files.append(item)
            continue
        if files:
            yield from images(files)
            files = []
        if isinstance(item, Failure):
            yield item
            continue
        try:
            if kind_of(item) == "npy":
                yield from _read_npy(item, chunk)
            elif kind_of(item) == "idx":
                yield from _read_idx(item, chunk)
            else:
                yield Failure(str(item), "not an image, IDX or .npy file")
        except _Bad as bad:
            yield Failure(str(item), str(bad))
    if files:
        yield from images(files)


def read_images(paths: list[str], invert: str) -> list[Chunk | Failure]:
    """The images of ``paths``, in order: each run of readable ones as one Chunk, each unreadable one as a
    Failure with its reason (what a decoding worker returns for its share of a folder). The conversion runs
    on all of them at once."""
    grays, reasons = [], {}
    for path in paths:
        try:
            grays.append(_decode(path, invert))
        except _Bad as bad:
            reasons[path] = str(bad)
    images, polarities = photo.to_dataset_form(grays, invert)
    out: list[Chunk | Failure] = []
    done = 0
    for failed, run in itertools.groupby(paths, key=lambda path: path in reasons):
        run = list(run)
        if failed:
            out += [Failure(path, reasons[path]) for path in run]
        else:
            out.append(Chunk(run, images[done : done + len(run)], polarities[done : done + len(run)]))
            done += len(run)
    return out


class _Bad(Exception):
    """The reason one input cannot be used."""


def load_image(path: Path, invert: str = "auto") -> tuple[np.ndarray, str]:
    """Any size and mode → (uint8 28×28 light garment on black, the polarity used): the data set's own
    conversion (``photo.to_dataset_form``)."""
    images, polarities = photo.to_dataset_form([_decode(path, invert)], invert)
    return images[0], polarities[0]


def _decode(path: str | Path, invert: str) -> np.ndarray:
    """The image as uint8 grayscale [height, width], no larger than the conversion needs (``photo.shrink``;
    JPEGs decoded at that scale, by libjpeg-turbo where they are plain); an image over MAX_PIXELS is refused
    from its header, before any pixel is decoded."""
    if (gray := jpeg.decode(path, MAX_PIXELS)) is not None:
        return gray
    from PIL import Image, UnidentifiedImageError

    background = 0 if invert == "off" else 255  # transparent areas: the background of a product photo
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow's own limit: refused too
            with Image.open(path) as im:  # lazy: only the header is read here
                if im.width * im.height > MAX_PIXELS:
                    raise _Bad(_too_large(f"{im.width}×{im.height} = {im.width * im.height:,}"))
                im.seek(0)  # first frame of an animation
                if im.format in ("JPEG", "MPO"):  # decoded smaller (DCT scaling), as the conversion needs
                    im.draft("L", photo.decode_size(im.size))
                im.load()
                if im.format not in PLAIN or "exif" in im.info or "xmp" in im.info:  # rotation, as phones say
                    im = _upright(im)  # (what it reads costs more than a small JPEG's pixels)
                gray = np.asarray(photo.shrink(_gray(im, background)))  # a worker keeps no large image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = int(re.findall(r"\d+", str(err))[0])  # Pillow says "Image size (N pixels) exceeds ..."
        raise _Bad(_too_large(f"{pixels:,}")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise _Bad(f"cannot be read as an image ({str(err) or type(err).__name__})") from None
    except MemoryError:  # within MAX_PIXELS, but more than this machine has free now
        raise _Bad("needs more memory to decode than is free; shrink it or free some memory") from None
    return gray


def _upright(im):
    """The image turned as its EXIF or XMP says. Metadata that does not parse says no turn, so the pixels
    are used as they are (as a JPEG's already were), and Pillow's warnings about it, of no use to the user,
    are dropped."""
    from PIL import ImageOps

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
        try:
            return ImageOps.exif_transpose(im)
        except (SyntaxError, ValueError, struct.error):  # "not a TIFF file", an IFD cut short
            return im


def _too_large(pixels: str) -> str:
    return f"is too large to decode: {pixels} pixels, over the {MAX_PIXELS:,}-pixel limit; shrink it first"


def _gray(im, background: int):
    """8-bit grayscale: 16-bit, 32-bit and float images scaled (not clipped), alpha flattened."""
    from PIL import Image

    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        wide = np.asarray(im, dtype=np.float64)
        if not np.isfinite(wide).all():
            raise _Bad("contains NaN or infinite values")
        wide *= 255.0 / _full_scale(im.mode, wide)
        return Image.fromarray(wide.round().clip(0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (background, background, background, 255))
        return Image.alpha_composite(flat, rgba).convert("L")
    return im.convert("L")


def _full_scale(mode: str, pixels: np.ndarray) -> float:
    """The value that means white: 1 for float images, 65535 for 16-bit ones, and for 32-bit integer ones
    (mode "I") 65535 when every value fits 16 bits (older Pillows open 16-bit PNGs so), else 2³¹ − 1."""
    if mode == "F":
        return 1.0
    if mode == "I" and pixels.size and pixels.max() > 65535:
        return 2.0**31 - 1
    return 65535.0


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
                with _open_idx(item) as f:
                    header = f.read(8)
                total += struct.unpack(">I", header[4:8])[0] if header[:4] == IDX_IMAGES else 0
            elif kind == "image":
                total += 1
        except (OSError, EOFError, ValueError, struct.error, zlib.error):
            continue
    return total


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


def _read_npy(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        npy_header(path)  # its reasons are worded for the user
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise _Bad(str(err)) from None
    except (OSError, EOFError) as err:
        raise _Bad(f"cannot be read as a .npy array ({err})") from None
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise _Bad(f"has shape {tuple(array.shape)}; need N×28×28 or N×1×28×28")
    floats = np.issubdtype(array.dtype, np.floating)
    if len(array) == 0:
        raise _Bad("holds no images")
    if array.dtype != np.uint8 and not floats:
        raise _Bad(f"has dtype {array.dtype}; need uint8 0–255 or float 0–1")
    for start in range(0, len(array), chunk) if floats else ():  # check everything before predicting any
        part = np.asarray(array[start : start + chunk])
        if not np.isfinite(part).all():
            raise _Bad("contains NaN or infinite values")
        if part.size and (part.min() < 0 or part.max() > 1):
            raise _Bad("has float values outside 0–1")
    for start in range(0, len(array), chunk):
        part = np.asarray(array[start : start + chunk])
        images = (part * 255.0).round().astype(np.uint8) if floats else part
        yield Chunk(_sources(path, start, len(part)), images, [AS_GIVEN] * len(part))


def _sources(path: Path, start: int, count: int) -> list[str]:
    """The source column of images ``start`` onwards of the array file ``path``: "path:index"."""
    prefix = f"{path}:"  # made once: a Path's str() per image costs more than the row it names
    return [prefix + str(index) for index in range(start, start + count)]


def _read_idx(path: Path, chunk: int) -> Iterator[Chunk]:
    """Checked whole first (as .npy files are), so a corrupt file gives no rows at all: a plain file by its
    size against its header, a .gz by reading it through once (its length and CRC are known only then)."""
    if path.name.lower().endswith(".gz"):
        for _ in _idx_chunks(path, chunk):
            pass
    else:
        try:
            with open(path, "rb") as f:
                header, size = f.read(16), os.fstat(f.fileno()).st_size
        except OSError as err:
            raise _Bad(f"cannot be read ({err})") from None
        count, rows, cols = struct.unpack(">III", header[4:]) if len(header) == 16 else (0, 0, 0)
        if header[:4] == IDX_IMAGES and rows == cols == IMAGE_SIZE and size > 16 + count * PIXELS:
            raise _Bad(f"has data after its {count} images: not a clean IDX file")
    yield from _idx_chunks(path, chunk)


def _idx_chunks(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        with _open_idx(path) as f:
            header = f.read(16)
            if header[:4] != IDX_IMAGES[: len(header)]:
                raise _Bad("is not an IDX image file (bad magic number)")
            if len(header) < 16:  # the right magic number, cut short: a truncated file, not a foreign one
                raise _Bad(f"is truncated: {len(header)} bytes, too short for an IDX header (16)")
            count, rows, cols = struct.unpack(">III", header[4:])
            if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
                raise _Bad(f"holds {rows}×{cols} images; need 28×28")
            if count == 0:
                raise _Bad("holds no images")
            size = None if path.name.lower().endswith(".gz") else os.fstat(f.fileno()).st_size
            if size is not None and size < 16 + count * PIXELS:  # known from the header, before any read
                got = (size - 16) // PIXELS
                raise _Bad(f"is truncated: the header says {count} images, the file holds {got}")
            for start in range(0, count, chunk):
                want = min(chunk, count - start)
                data = f.read(want * PIXELS)
                if len(data) < want * PIXELS:
                    got = start + len(data) // PIXELS
                    raise _Bad(f"is truncated: the header says {count} images, the file holds {got}")
                images = np.frombuffer(data, np.uint8).reshape(want, IMAGE_SIZE, IMAGE_SIZE)
                yield Chunk(_sources(path, start, want), images, [AS_GIVEN] * want)
            if f.read(1):  # also makes gzip check its CRC
                raise _Bad(f"has data after its {count} images: not a clean IDX file")
    except (OSError, EOFError, zlib.error) as err:
        raise _Bad(f"cannot be read ({err})") from None


def read_idx(path: Path) -> np.ndarray:
    """A whole IDX image file as uint8 [n, 28, 28]; ValueError (its reason) when it cannot be used."""
    try:
        return np.concatenate([chunk.images for chunk in _read_idx(path, 10_000)])
    except _Bad as bad:
        raise ValueError(f"{path} {bad}") from None
