"""Image files (JPEG, PNG, TIFF, WebP, …) decoded with Pillow or libjpeg-turbo, upright and gray, then put in
the data set's form by ``photo.to_dataset_form``; an image over MAX_PIXELS is refused from its header."""

from __future__ import annotations

import io
import itertools
import re
import struct
import warnings
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE
from pixelsense.infer import jpeg, photo
from pixelsense.infer.chunk import Chunk, Unreadable
from pixelsense.paths import Failure

PLAIN = ("JPEG", "PNG", "BMP", "GIF")  # formats that keep an orientation only in EXIF or XMP metadata
THIN = (
    f"is over {IMAGE_SIZE} times as long as wide: in {IMAGE_SIZE}×{IMAGE_SIZE} its narrow side would be "
    "under a pixel; crop it to the garment"
)
MAX_PIXELS = 50_000_000  # the largest image decoded (width × height); a larger one is refused from its header


def read_images(paths: list[str], invert: str) -> list[Chunk | Failure]:
    """The images of ``paths``, in order: each run of readable ones as one Chunk, each unreadable one as a
    Failure with its reason (what a decoding worker returns for its share of a folder). The conversion runs
    on all of them at once."""
    return _convert([(path, path) for path in paths], invert)


def read_uploads(uploads: list[tuple[str, bytes]], invert: str) -> list[Chunk | Failure]:
    """``read_images`` for files held in memory, as (name, bytes): the same decoding and conversion, and
    nothing written to disk."""
    return _convert(uploads, invert)


def _convert(sources: list[tuple[str, str | bytes]], invert: str) -> list[Chunk | Failure]:
    grays, reasons = [], {}  # reasons by position: two uploads may share a name
    for at, (name, source) in enumerate(sources):
        try:
            grays.append(_decode(source, invert, name))
        except Unreadable as bad:
            reasons[at] = str(bad)
    images, polarities = photo.to_dataset_form(grays, invert)
    out: list[Chunk | Failure] = []
    done = 0
    for failed, group in itertools.groupby(range(len(sources)), key=lambda at: at in reasons):
        run = list(group)
        names = [sources[at][0] for at in run]
        if failed:
            out += [Failure(name, reasons[at]) for name, at in zip(names, run, strict=True)]
        else:
            out.append(Chunk(names, images[done : done + len(names)], polarities[done : done + len(names)]))
            done += len(names)
    return out


def load_image(path: Path, invert: str = "auto") -> tuple[np.ndarray, str]:
    """Any size and mode → (uint8 28×28 light garment on black, the polarity used): the data set's own
    conversion (``photo.to_dataset_form``)."""
    images, polarities = photo.to_dataset_form([_decode(path, invert)], invert)
    return images[0], polarities[0]


def _decode(source: str | Path | bytes, invert: str, name: str = "") -> np.ndarray:
    """The image (a path, or a file's bytes) as uint8 grayscale [height, width], no larger than the
    conversion needs (``photo.shrink``; JPEGs decoded at that scale, by libjpeg-turbo where they are plain);
    an image over MAX_PIXELS is refused from its header, before any pixel is decoded. ``name``: what a
    file's bytes are called in Pillow's messages, as a path would be."""
    gray = jpeg.decode(source, MAX_PIXELS)
    if gray is None:
        gray = _pillow(source, invert, name)
    if max(gray.shape) > IMAGE_SIZE * min(gray.shape):  # shrunk, but in the image's own proportions
        raise Unreadable(
            f"is over {IMAGE_SIZE} times as long as wide: in {IMAGE_SIZE}×{IMAGE_SIZE} its narrow "
            "side would be under a pixel; crop it to the garment"
        )
    return gray


def _pillow(source: str | Path | bytes, invert: str, name: str) -> np.ndarray:
    """``_decode`` by Pillow: any format it reads, EXIF rotation, 16-bit and float scaled, alpha flattened."""
    from PIL import Image, UnidentifiedImageError

    background = 0 if invert == "off" else 255  # transparent areas: the background of a product photo
    try:
        with warnings.catch_warnings():
            # Metadata Pillow skips ("Tag data larger than file"): the pixels decode, and its warnings, which
            # name no file, are of no use; pixels that do not decode fail the file with its name and reason.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow's own limit: refused too
            opened = io.BytesIO(source) if isinstance(source, bytes) else source
            with Image.open(opened) as im:  # lazy: only the header is read here
                if im.width * im.height > MAX_PIXELS:
                    raise Unreadable(_too_large(f"{im.width}×{im.height} = {im.width * im.height:,}"))
                im.seek(0)  # first frame of an animation
                if im.format in ("JPEG", "MPO"):  # decoded smaller (DCT scaling), as the conversion needs
                    im.draft("L", photo.decode_size(im.size))
                im.load()
                if im.format not in PLAIN or "exif" in im.info or "xmp" in im.info:  # rotation, as phones say
                    im = _upright(im)  # (what it reads costs more than a small JPEG's pixels)
                gray = np.asarray(photo.shrink(_gray(im, background)))  # a worker keeps no large image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = int(re.findall(r"\d+", str(err))[0])  # Pillow says "Image size (N pixels) exceeds ..."
        raise Unreadable(_too_large(f"{pixels:,}")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        said = str(err) or type(err).__name__
        if isinstance(source, bytes):  # named as a file's path would be, not "<_io.BytesIO object at …>"
            said = said.replace(repr(opened), repr(name))
        raise Unreadable(f"cannot be read as an image ({said})") from None
    except MemoryError:  # within MAX_PIXELS, but more than this machine has free now
        raise Unreadable("needs more memory to decode than is free; shrink it or free some memory") from None
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
            raise Unreadable("contains NaN or infinite values")
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
