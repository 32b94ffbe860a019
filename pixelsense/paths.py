"""Which files an inference run reads: files as given, folders searched, globs expanded, each file once, and
without ever hanging: symbolic-link loops end, and FIFOs and devices are refused before anything opens them.
What gives no file to read becomes a Failure (its source and one reason) and the others go on."""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pixelsense.errors import PixelsenseError
from pixelsense.formats import named

CASELESS = os.path.normcase("A") == "a"  # Windows: paths compare (and sort) as lower case
NO_IMAGES = (
    "holds or matches no PNG, JPEG, BMP, GIF, TIFF or WebP images; folders are searched for images only, so "
    "name IDX files and .npy arrays themselves"
)


@dataclass(frozen=True)
class Failure:
    source: str
    reason: str


class NoInputs(PixelsenseError):
    """Nothing to predict: no arguments, or none that names a file."""


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a plain file (missing, a broken link, a FIFO...), or None. Reading a
    FIFO would wait forever for a writer, so special files are refused before anything opens them."""
    return _identify(path)[1]


def _identify(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``path``'s file as (inode, device), and why it cannot be read as a plain file (or None): one stat."""
    try:
        info = path.stat()
    except OSError as err:
        if path.is_symlink():
            return None, f"is a broken symbolic link (to {os.readlink(path)})"
        missing = isinstance(err, FileNotFoundError)
        return None, "does not exist" if missing else f"cannot be read ({err.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return None, "is a folder, not a file"
    special = not stat.S_ISREG(info.st_mode)
    return (info.st_ino, info.st_dev), "is not a regular file (a FIFO, socket or device)" if special else None


def _walk(top: Path, folders_too: bool = False) -> Iterator[Path | Failure]:
    """Everything under the folder ``top``, each folder entered once (so symbolic-link loops end) and
    yielded only with ``folders_too``; a folder that cannot be listed becomes a Failure."""
    seen: set[tuple[int, int]] = set()
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda entry: os.path.normcase(entry.name))  # as Paths sort
            children = [(folder / entry.name, _is_dir(entry)) for entry in entries]
        except OSError as err:
            yield Failure(str(folder), f"cannot be listed ({err.strerror or err})")
            continue
        if folders_too and folder != top:
            yield folder
        folders += reversed([child for child, is_dir in children if is_dir])
        yield from (child for child, is_dir in children if not is_dir)


def _is_dir(entry: os.DirEntry) -> bool:
    """Whether a folder entry is a folder to enter; a link that loops onto itself is not (it is read as a
    file, and fails alone)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _matches(names: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether a relative path matches glob components, ``**`` standing for any number of folders (as in
    glob, wildcards skip hidden names)."""
    if not pattern:
        return not names
    if pattern[0] == "**":
        ends = range(len(names) + 1)
        return any(_matches(names[i:], pattern[1:]) for i in ends if not _hidden(names[:i], ""))
    return (bool(names) and not _hidden(names[:1], pattern[0]) and fnmatch.fnmatchcase(names[0], pattern[0])
            and _matches(names[1:], pattern[1:]))  # fmt: skip


def _hidden(names: tuple[str, ...], pattern: str) -> bool:
    return any(n.startswith(".") for n in names) and not pattern.startswith(".")


def _glob(pattern: str) -> list[Path | Failure]:
    """``glob.glob(pattern, recursive=True)``, but ``**`` walks each folder once, so link loops end."""
    parts = Path(pattern).parts
    if "**" not in parts:
        return sorted(Path(p) for p in glob.glob(pattern))
    at = parts.index("**")
    found: list[Path | Failure] = []
    for base in sorted(map(Path, glob.glob(os.path.join(*parts[:at])) if at else [os.curdir])):
        for p in _walk(base, folders_too=True) if base.is_dir() else ():
            if isinstance(p, Failure) or _matches(p.relative_to(base).parts, parts[at:]):
                found.append(p)
    return found


def _place(item: Path | Failure) -> tuple[str, ...]:
    """Where an item is, as Paths compare (a key made once sorts faster than Paths compare)."""
    parts = (Path(item.source) if isinstance(item, Failure) else item).parts
    return tuple(map(os.path.normcase, parts)) if CASELESS else parts


def expand(args: Iterable[str]) -> list[Path | Failure]:
    """Files to read, in order: files as given, folders searched recursively for images, globs expanded
    (a folder a glob matches is searched too), each file once per argument. What gives no file to read
    (missing, an empty folder or glob, a FIFO, a folder that cannot be listed) becomes a Failure."""
    found: list[Path | Failure] = []
    for arg in args:
        if not arg:  # Path("") is the current folder: never what an empty argument meant
            found.append(Failure('""', "is an empty argument, not a file, folder or glob"))
            continue
        path = Path(arg)
        literal = path.exists() or path.is_symlink() or not glob.has_magic(arg)
        items: list[Path | Failure] = []
        for match in [path] if literal else _glob(arg):
            if isinstance(match, Path) and match.is_dir():
                items += [p for p in _walk(match) if isinstance(p, Failure) or named(p) == "image"]  # by name
            else:
                items.append(match)
        chosen: dict = {}  # links and loops can reach one file by several paths: keep the shortest
        for item in items or [Failure(arg, NO_IMAGES)]:
            key, problem = _identify(item) if isinstance(item, Path) else (None, None)
            item = Failure(str(item), problem) if problem else item
            key = key or item
            if key not in chosen or len(_place(item)) < len(_place(chosen[key])):
                chosen[key] = item
        found += sorted(chosen.values(), key=_place)
    return found
