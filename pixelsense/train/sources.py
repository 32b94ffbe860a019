"""Find, verify and put in place the four Fashion-MNIST IDX files.

Search order (first hit wins):
1. the uncompressed files in ``<data_dir>/FashionMNIST/raw/`` (torchvision's layout);
2. the ``.gz`` files in ``<data_dir>`` or a system dataset folder (Debian's ``dataset-fashion-mnist``
   installs them in ``/usr/share/datasets/fashion-mnist/``), decompressed into (1);
3. torchvision's own download.

Files are identified by the SHA-256 of their *decompressed* content: recompressed ``.gz`` files
(as Debian ships them) have other MD5s than torchvision's, but the same bytes inside.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from pixelsense.errors import PixelsenseError, first_line
from pixelsense.files import atomic_path, file_in_the_way
from pixelsense.paths import not_regular

# SHA-256 of the decompressed IDX files, the one identity of the data set.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# Their sizes (the IDX header, then 60,000 or 10,000 items): a .gz that inflates past one is not the data
# set, and is refused before it can fill the disk.
SIZES = {"train-images-idx3-ubyte": 16 + 60_000 * 784, "train-labels-idx1-ubyte": 8 + 60_000,
         "t10k-images-idx3-ubyte": 16 + 10_000 * 784, "t10k-labels-idx1-ubyte": 8 + 10_000}  # fmt: skip
# Where operating-system packages put the compressed files.
SYSTEM_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
# What to do without the data, in words that hold for every command (export.py cannot download).
HOW_TO_GET = (
    "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or run "
    "`python scripts/get_data.py` with the same --data-dir on a machine with internet access"
)


class DataError(PixelsenseError):
    """The data set is missing or damaged; the message says which file and what to do."""


def raw_dir(data_dir: str | os.PathLike) -> Path:
    """torchvision's folder for the uncompressed files: ``<data_dir>/FashionMNIST/raw``."""
    return Path(data_dir) / "FashionMNIST" / "raw"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Files already verified in this process, keyed by what would change if they were replaced.
_verified: set[tuple[str, str, int, int]] = set()


def _key(path: Path, name: str) -> tuple[str, str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), SHA256[name], stat.st_size, stat.st_mtime_ns)


def _mismatch(origin: Path, name: str, size: int) -> DataError:
    return DataError(
        f"{origin} is not the Fashion-MNIST file {name} (wrong SHA-256, {size} bytes: "
        f"truncated, corrupt or another data set); delete it and {HOW_TO_GET}."
    )


def _check(path: Path, name: str) -> None:
    """Raise DataError unless ``path`` holds exactly the expected content of ``name``."""
    key = _key(path, name)
    if key in _verified:
        return
    if sha256_of(path) != SHA256[name]:
        raise _mismatch(path, name, key[2])
    _verified.add(key)


def _decompress(gz_path: Path, dest: Path, name: str) -> None:
    """Decompress ``gz_path`` into ``dest`` atomically, hashing as it writes: the content is verified
    before it lands, and read once. A failure leaves nothing under ``dest``'s name."""
    digest, size = hashlib.sha256(), 0
    try:
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            for block in _gz_blocks(gz_path):
                size += len(block)
                if size > SIZES[name]:  # a decompression bomb, or another data set: not written on
                    raise DataError(f"{gz_path} inflates past {SIZES[name]:,} bytes, the size of {name}: it "
                                    f"is not Fashion-MNIST; delete it and {HOW_TO_GET}.")  # fmt: skip
                out.write(block)
                digest.update(block)
            if digest.hexdigest() != SHA256[name]:
                raise _mismatch(gz_path, name, size)
    except OSError as err:  # writing: what goes wrong reading is a DataError already
        shown = err.filename or dest  # atomic_path names the target, never its temporary file
        if err.errno == errno.ENOSPC:
            raise DataError(f"the disk is full: {shown} cannot be written (Fashion-MNIST takes about 55 MB); "
                            "free some space or pass another --data-dir.") from None  # fmt: skip
        raise DataError(
            f"cannot write {shown} ({err.strerror or err}); pass a --data-dir you can write to."
        ) from None
    _verified.add(_key(dest, name))


def _gz_blocks(gz_path: Path) -> Iterator[bytes]:
    """The decompressed content of ``gz_path``, block by block; DataError if it cannot be read."""
    try:
        with gzip.open(gz_path, "rb") as src:
            yield from iter(lambda: src.read(1 << 20), b"")
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, OSError) and err.errno is not None:  # the file system, not the content
            raise DataError(f"cannot read {gz_path} ({err.strerror}); check its permissions.") from None
        raise DataError(
            f"{gz_path} cannot be decompressed ({err}); it is truncated or corrupt: delete it and "
            f"{HOW_TO_GET}."
        ) from None


def _download(data_dir: Path) -> None:
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(str(data_dir), train=True, download=True)
        FashionMNIST(str(data_dir), train=False, download=True)
    except Exception as err:  # network errors come in many types; all mean the same here
        reason = first_line(err)
        raise DataError(
            f"Fashion-MNIST is not in {raw_dir(data_dir)} nor in any of "
            f"{', '.join(str(d) for d in [data_dir, *SYSTEM_DIRS])}, and the download failed "
            f"({reason}); {HOW_TO_GET}."
        ) from None


def ensure_fashion_mnist(data_dir: str | os.PathLike, download: bool = True) -> Path:
    """Make sure the four verified IDX files are in ``raw_dir(data_dir)``; return that folder.

    Raises DataError with one actionable sentence for anything missing, damaged or in the way.
    """
    raw = raw_dir(data_dir)
    blocked = file_in_the_way(raw)
    if blocked is not None:
        raise DataError(f"{blocked} is a file, not a folder, so the data cannot go in {raw}; pass another "
                        "--data-dir.")  # fmt: skip
    try:
        return _ensure(Path(data_dir), raw, download)
    except OSError as err:  # a file or folder on the way that cannot be read
        raise DataError(f"cannot read {err.filename or raw} ({err.strerror or err}); check its permissions "
                        "or pass another --data-dir.") from None  # fmt: skip


def _ensure(data_dir: Path, raw: Path, download: bool) -> Path:
    missing = []
    for name in SHA256:
        target = raw / name
        if target.is_file():
            _check(target, name)
            continue
        if target.exists():  # a folder, a FIFO (reading it would hang), a socket or a device
            raise DataError(f"{target} {not_regular(target)}, where that IDX file should be; move it away "
                            "and run again.")  # fmt: skip
        for folder in (data_dir, *SYSTEM_DIRS):
            gz_path = folder / f"{name}.gz"
            if gz_path.is_file():
                _decompress(gz_path, target, name)
                break
        else:
            missing.append(name)
    if missing and download:
        _download(data_dir)
        for name in missing:
            _check(raw / name, name)
    elif missing:
        raise DataError(f"{raw / missing[0]} is missing and downloading is off; pass the --data-dir that "
                        f"holds Fashion-MNIST, or {HOW_TO_GET}.")  # fmt: skip
    return raw
