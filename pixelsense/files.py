"""Writing files whole or not at all."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; when the block succeeds, its files move into ``folder``
    (each replaced whole), so a failure half-way leaves no new file in ``folder`` at all."""
    import shutil

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    tmp.mkdir(exist_ok=True)
    try:
        yield tmp
        moves = [(p, folder / p.relative_to(tmp)) for p in sorted(tmp.rglob("*")) if p.is_file()]
        for _, target in moves:  # refuse before anything moves
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way of a file", str(target))
        for source, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                source.replace(target)
            except OSError as err:  # name the file the user sees, not the temporary one
                raise OSError(err.errno, err.strerror, str(target)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def check_writable(folder: str | os.PathLike) -> None:
    """Raise the OSError that writing into ``folder`` would raise, now: make it if needed and write a
    throw-away file there."""
    import tempfile

    Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass
