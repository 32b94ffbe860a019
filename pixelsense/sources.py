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

import gzip
import hashlib
import os
import zlib
from pathlib import Path

from pixelsense.files import atomic_path

# SHA-256 of the decompressed IDX files, the one identity of the data set.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# Where operating-system packages put the compressed files.
SYSTEM_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
HOW_TO_GET = (
    "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "or run once with internet access so torchvision can download it"
)


class DataError(Exception):
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
    before it lands, and read once."""
    digest, size = hashlib.sha256(), 0
    with atomic_path(dest) as tmp:
        try:
            with open(tmp, "wb") as out, gzip.open(gz_path, "rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(
                f"{gz_path} cannot be decompressed ({err}); it is truncated or corrupt: "
                f"delete it and {HOW_TO_GET}."
            ) from None
        if digest.hexdigest() != SHA256[name]:
            raise _mismatch(gz_path, name, size)
    _verified.add(_key(dest, name))


def _download(data_dir: Path) -> None:
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(str(data_dir), train=True, download=True)
        FashionMNIST(str(data_dir), train=False, download=True)
    except Exception as err:  # network errors come in many types; all mean the same here
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"Fashion-MNIST is not in {raw_dir(data_dir)} nor in any of "
            f"{', '.join(str(d) for d in [data_dir, *SYSTEM_DIRS])}, and the download failed "
            f"({reason}); {HOW_TO_GET}."
        ) from None


def ensure_fashion_mnist(data_dir: str | os.PathLike, download: bool = True) -> Path:
    """Make sure the four verified IDX files are in ``raw_dir(data_dir)``; return that folder.

    Raises DataError with one actionable sentence for anything missing or damaged.
    """
    data_dir = Path(data_dir)
    raw = raw_dir(data_dir)
    missing = []
    for name in SHA256:
        target = raw / name
        if target.is_file():
            _check(target, name)
            continue
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
        raise DataError(f"{raw / missing[0]} is missing and downloading is off; {HOW_TO_GET}.")
    return raw
