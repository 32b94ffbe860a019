"""Inputs for onnxruntime inference, without torch: image files, folders, globs, IDX image files and .npy
arrays, streamed as uint8 ``[k, 28, 28]`` chunks with bounded memory. A bad input becomes a Failure (its
source and one reason) and the others go on."""

from __future__ import annotations

import glob
import gzip
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"}
PIXELS = IMAGE_SIZE * IMAGE_SIZE


@dataclass
class Chunk:
    sources: list[str]
    images: np.ndarray  # uint8 [k, 28, 28]


@dataclass
class Failure:
    source: str
    reason: str


class NoInputs(Exception):
    """Nothing to predict: no arguments, or only empty folders and globs."""


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand(args: Iterable[str]) -> list[Path | Failure]:
    """Files to read, in order: files as given, folders searched recursively for images, globs expanded
    (a folder a glob matches is searched too)."""
    found: list[Path | Failure] = []
    for arg in args:
        path = Path(arg)
        if path.exists() or not glob.has_magic(arg):
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
        files: list[Path] = []
        for match in matches:
            files += _images_in(match) if match.is_dir() else [match]
        if not path.exists() and not glob.has_magic(arg):
            found.append(Failure(arg, "no such file or folder"))
        elif not files:
            raise NoInputs(
                f"{arg} holds or matches no PNG, JPEG, BMP, GIF or TIFF images, IDX or .npy files."
            )
        else:
            found += list(dict.fromkeys(files))  # a recursive glob can reach a file twice
    if not found:
        raise NoInputs("no inputs; pass image files, folders, globs, IDX files or .npy arrays.")
    return found


def _kind(path: Path) -> str:
    """How an input file is read: "npy", "idx", "image", or "" for none of these."""
    name = path.name.lower()
    if name.endswith(".npy"):
        return "npy"
    if "idx3" in name or name.endswith((".idx", ".idx.gz")):
        return "idx"
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else ""


def _open_idx(path: Path):
    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb")


def read_all(items: Iterable[Path | Failure], chunk: int, invert: bool) -> Iterator[Chunk | Failure]:
    for item in items:
        if isinstance(item, Failure):
            yield item
            continue
        kind = _kind(item)
        try:
            if kind == "npy":
                yield from _read_npy(item, chunk)
            elif kind == "idx":
                yield from _read_idx(item, chunk)
            elif kind == "image":
                yield Chunk([str(item)], load_image(item, invert)[None])
            else:
                yield Failure(str(item), "not an image, IDX or .npy file")
        except _Bad as bad:
            yield Failure(str(item), str(bad))


class _Bad(Exception):
    """The reason one input cannot be used."""


def load_image(path: Path, invert: bool = False) -> np.ndarray:
    """Any size and mode → uint8 28×28 grayscale, white object on black (``invert`` for dark on light)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    background = 255 if invert else 0  # transparent areas and padding become background
    try:
        with Image.open(path) as im:
            im.seek(0)  # first frame of an animation
            im.load()
            im = ImageOps.exif_transpose(im)  # phone photos store their rotation in EXIF
            if im.mode.startswith("I;16") or im.mode in ("I", "F"):  # 16-bit, 32-bit or float: scale
                wide = np.asarray(im, dtype=np.float64)
                wide *= 255.0 / _full_scale(im.mode, wide)
                gray = Image.fromarray(wide.round().clip(0, 255).astype(np.uint8))
            elif im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                rgba = im.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (background, background, background, 255))
                gray = Image.alpha_composite(flat, rgba).convert("L")
            else:
                gray = im.convert("L")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as err:
        raise _Bad(f"cannot be read as an image ({str(err) or type(err).__name__})") from None
    side = max(gray.size)  # pad to a square so the garment keeps its shape
    square = Image.new("L", (side, side), background)
    square.paste(gray, ((side - gray.width) // 2, (side - gray.height) // 2))
    small = np.asarray(square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)
    return 255 - small if invert else small


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
        if isinstance(item, Failure):
            continue
        kind = _kind(item)
        try:
            if kind == "npy":
                total += len(np.load(item, mmap_mode="r", allow_pickle=False))
            elif kind == "idx":
                with _open_idx(item) as f:
                    header = f.read(8)
                total += struct.unpack(">I", header[4:8])[0] if header[:4] == b"\x00\x00\x08\x03" else 0
            elif kind == "image":
                total += 1
        except (OSError, EOFError, ValueError, TypeError, struct.error, zlib.error):
            continue
    return total


def _read_npy(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        pickled = "pickle" in str(err) or "Python objects" in str(err)
        reason = (
            "holds pickled Python objects, which are never loaded; save plain arrays" if pickled else str(err)
        )
        raise _Bad(reason) from None
    except (OSError, EOFError) as err:
        raise _Bad(f"is empty or not a readable .npy array ({err})") from None
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
        if np.isnan(part).any():
            raise _Bad("contains NaN values")
        if part.size and (part.min() < 0 or part.max() > 1):
            raise _Bad("has float values outside 0–1")
    for start in range(0, len(array), chunk):
        part = np.asarray(array[start : start + chunk])
        images = (part * 255.0).round().astype(np.uint8) if floats else part
        yield Chunk([f"{path}:{i}" for i in range(start, start + len(part))], images)


def _read_idx(path: Path, chunk: int) -> Iterator[Chunk]:
    """Checked whole first (as .npy files are), so a corrupt file gives no rows at all."""
    for _ in _idx_chunks(path, chunk):
        pass
    yield from _idx_chunks(path, chunk)


def _idx_chunks(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        with _open_idx(path) as f:
            header = f.read(16)
            if len(header) < 16 or header[:4] != b"\x00\x00\x08\x03":
                raise _Bad("is not an IDX image file (bad magic number)")
            count, rows, cols = struct.unpack(">III", header[4:])
            if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
                raise _Bad(f"holds {rows}×{cols} images; need 28×28")
            if count == 0:
                raise _Bad("holds no images")
            for start in range(0, count, chunk):
                want = min(chunk, count - start)
                data = f.read(want * PIXELS)
                if len(data) < want * PIXELS:
                    got = start + len(data) // PIXELS
                    raise _Bad(f"is truncated: the header says {count} images, the file holds {got}")
                images = np.frombuffer(data, np.uint8).reshape(want, IMAGE_SIZE, IMAGE_SIZE)
                yield Chunk([f"{path}:{i}" for i in range(start, start + want)], images)
            if f.read(1):  # also makes gzip check its CRC
                raise _Bad(f"has data after its {count} images: not a clean IDX file")
    except (OSError, EOFError, zlib.error) as err:
        raise _Bad(f"cannot be read ({err})") from None
