"""Writing files whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pixelsense.errors import PixelsenseError


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds. Folders
    made for it are removed again when nothing came of it. A symbolic link at ``target`` stays, and the file
    it points to is replaced (as a shell's ``>`` writes through it)."""
    if names_a_folder(target):
        raise IsADirectoryError(errno.EISDIR, "ends in a slash: a folder, not a file", str(target))
    special = os.path.exists(target) and not os.path.isfile(target) and not os.path.isdir(target)
    if stream_fd(target) is not None or special:
        # a stream, a FIFO or a device: renamed over, what is behind it would be lost (output() writes one)
        raise OSError(errno.EINVAL, "not a regular file, which is written whole or not at all", str(target))
    target = Path(os.path.realpath(target) if os.path.islink(target) else target)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]  # innermost first
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(target)
    try:
        yield tmp
        _sync(tmp)  # the bytes are on disk before the name points at them
        tmp.replace(target)
    except OSError as err:  # name the file the user asked for, never the temporary one
        if err.filename is not None and Path(err.filename) != tmp:
            raise
        raise OSError(err.errno, err.strerror, str(target)) from None
    finally:
        with contextlib.suppress(OSError):  # e.g. a read-only disk, where it was never made: say why not
            tmp.unlink(missing_ok=True)
        if not target.exists():
            _remove_empty(made)


def identity(target: str | os.PathLike) -> tuple[int, int, int] | None:
    """The file at ``target`` as (device, inode, mtime), or None: it changes when atomic_path puts a new one
    in place, which tells a command stopped just then whether its output was written."""
    try:
        info = os.stat(target)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


STREAMS = {"-": 1, "/dev/stdout": 1, "/dev/stderr": 2}  # names of this process's own output streams
STREAM_FOLDERS = ("/dev/fd/", "/proc/self/fd/")  # ... and its descriptors by number


def stream_fd(target: str | os.PathLike) -> int | None:
    """The file descriptor ``target`` names when it is one of this process's streams (``-``, /dev/stdout,
    /dev/stderr, /dev/fd/N, /proc/self/fd/N), else None. Such a name may resolve to a regular file (the one
    a shell's ``>>`` opened): it is written to as the stream it is, never renamed over or truncated."""
    text = os.fspath(target)
    if text in STREAMS:
        return STREAMS[text]
    number = next((text[len(f) :] for f in STREAM_FOLDERS if text.startswith(f)), "")
    return int(number) if number.isdigit() else None


@contextmanager
def output(target: str | os.PathLike, mode: str = "w", **kw) -> Iterator:
    """An open file to write ``target`` with: a stream (``stream_fd``) as it is, where its writes go now
    (appended after what ``>>`` keeps); any other path whole or not at all (``atomic_path``)."""
    fd = stream_fd(target)
    if fd is None:
        with atomic_path(target) as tmp, open(tmp, mode, **kw) as out:
            yield out
        return
    for stream in (sys.stdout, sys.stderr):  # what Python holds for it goes first
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    with os.fdopen(os.dup(fd), mode, **kw) as out:
        yield out


def names_a_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends in a separator: the user means a folder, though Path() would drop the slash."""
    return os.fspath(path).endswith(("/", os.sep))


def _partial(target: Path, kind: str = "") -> Path:
    """The temporary name beside ``target`` (``.<name>.<pid>.part``), short enough for any file system
    that takes ``target``; partial files that a killed process left under this name are removed first."""
    name = target.name[:NAME_KEPT]
    _sweep(target.parent, name)
    return target.with_name(f".{name}.{os.getpid()}{'.' + kind if kind else ''}.part")


def _sweep(folder: Path, name: str | None = None, ends: tuple[str, ...] = ("",)) -> None:
    """Remove the partial files (and, for ``name``, folders) in ``folder`` that _partial named, for ``name``
    or for any name ending in one of ``ends``, whose process is dead. Other ``.part`` files are someone
    else's: a user's (``.notes.2024.part``), another tool's, or a write still going on."""
    pattern = re.compile(rf"\.({re.escape(name) if name else '.+'})\.(\d+)(\.old)?\.part")
    for stale in folder.glob(f".{glob.escape(name) if name else '*'}.*.part"):
        made = pattern.fullmatch(stale.name)
        if not made or not made[1].endswith(ends) or int(made[2]) == os.getpid() or _alive(int(made[2])):
            continue
        if not stale.is_dir():
            stale.unlink(missing_ok=True)
        elif name:  # a folder of atomic_files beside its target
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else wrote there) or already gone
            return


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; when the block succeeds, its files replace their
    namesakes in ``folder`` as one change: if any of them cannot be put in place, those already moved are
    taken back and the old files restored, so ``folder`` holds either all the new files or none of them.
    Other files in ``folder`` are left alone."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(folder)
    old = _partial(folder, "old")  # the replaced files, until done
    try:
        try:
            tmp.mkdir(exist_ok=True)
            yield tmp
        except OSError as err:  # writing a new file: name it where the user will look for it
            where = Path(err.filename) if err.filename else tmp
            if where != tmp and tmp not in where.parents:
                raise
            raise OSError(err.errno, err.strerror, str(folder / where.relative_to(tmp))) from None
        moves = [(p, folder / p.relative_to(tmp)) for p in sorted(tmp.rglob("*")) if p.is_file()]
        for _, target in moves:  # refuse before anything moves
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way of a file", str(target))
        old.mkdir(exist_ok=True)
        _swap_in(moves, old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _swap_in(moves: list[tuple[Path, Path]], old: Path) -> None:
    """Move each (new, target) into place, keeping each replaced target in ``old``; undo all on an error."""
    done: list[tuple[Path, Path | None]] = []
    target = moves[0][1] if moves else old
    try:
        for number, (source, target) in enumerate(moves):
            target.parent.mkdir(parents=True, exist_ok=True)
            kept = old / str(number) if target.exists() else None
            if kept is not None:
                target.replace(kept)
            done.append((target, kept))
            source.replace(target)
    except OSError as err:
        for placed, kept in reversed(done):
            if kept is not None:
                kept.replace(placed)
            else:
                placed.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(target)) from None  # the user's name, not a temporary one


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


SMALL = 1 << 20  # the most a side file (metrics.json, a model's card) may hold: fit.py's are a few KB


def read_small(path: str | os.PathLike, most: int = SMALL) -> str:
    """The text of a small side file that pixelsense wrote (metrics.json, a model's card); ValueError where
    it is not a regular file (a FIFO would wait forever, /dev/zero never end) or holds more than ``most``
    bytes, OSError where it cannot be read. Callers treat both as "no such file"."""
    from pixelsense.paths import not_regular

    if Path(path).exists() and (problem := not_regular(Path(path))):  # missing: open() says so
        raise ValueError(f"{path} {problem}")
    with open(path, "rb") as f:
        data = f.read(most + 1)
    if len(data) > most:
        raise ValueError(f"{path} holds more than {most:,} bytes")
    return data.decode("utf-8")


_DESTINATIONS: dict[Path, str] = {}  # where this command writes → the option that said so (``destination``)


def destination(option: str, path: str | os.PathLike) -> None:
    """Say that this command writes at ``path`` (a file or a folder) because of ``option``, so that an error
    while writing there names that option, and not another."""
    _DESTINATIONS[Path(os.path.abspath(path))] = option


def forget_destinations() -> None:
    _DESTINATIONS.clear()


def cannot_write(err: OSError, option: str | None = None) -> str:
    """One sentence for an OSError met while writing: what, where, and what to do: pick another of the
    option whose ``destination`` holds the path (else ``option``), or, in the temporary folder, TMPDIR."""
    if err.filename is None and len(set(_DESTINATIONS.values())) == 1:  # a failed write names no file
        place = min(_DESTINATIONS, key=lambda place: len(place.parts))  # where it went: the option's top
        err = OSError(err.errno, err.strerror, str(place))
    where = err.filename or (f"the {option}" if option else "writing")
    if err.filename is not None:
        path = Path(os.path.abspath(err.filename))
        # the deepest destination holding the path; the folder of a destination file counts as it
        inside = [place for place in _DESTINATIONS if path in (place, place.parent) or place in path.parents]
        option = _DESTINATIONS[max(inside, key=lambda place: len(place.parts))] if inside else option
        if option is None and Path(tempfile.gettempdir()).resolve() in path.resolve().parents:
            option = "temporary folder (set TMPDIR)"
    other = f"pick another {option}" if option else "free some space or write elsewhere"
    if err.errno == errno.ENOSPC:
        return f"{where}: the disk is full; free some space or {other.removeprefix('free some space or ')}."
    return f"{where}: {err.strerror or err}; {other}."


def output_folder(option: str, folder: str | os.PathLike) -> Path:
    """The one check of an output folder, which every command runs before any work: PixelsenseError, in one
    sentence naming ``option``, where a file (a FIFO, a broken link) is at ``folder`` or one of its parents,
    so that it cannot be made; and the folder noted as the option's ``destination``."""
    folder = Path(folder)
    if problem := folder_problem(option, folder):
        raise PixelsenseError(problem + ".")
    destination(option, folder)
    return folder


def output_file(option: str, path: str | os.PathLike) -> None:
    """The one check of an output file's folder, before any work: PixelsenseError, in one sentence naming
    ``option``, where a file is in the way of the folder the file goes in; the file noted as the option's
    ``destination``."""
    if (blocked := file_in_the_way(Path(path).parent)) is not None:
        raise PixelsenseError(f"{option} {path} cannot be written: {blocked} is a file, not a folder; pick "
                              f"another {option}.")  # fmt: skip
    destination(option, path)


def folder_problem(option: str, folder: str | os.PathLike) -> str | None:
    """Why ``folder`` (given as ``option``) cannot be an output folder, or None."""
    from pixelsense.paths import not_regular

    folder = Path(folder)
    blocked = file_in_the_way(folder)
    if blocked is None:
        return None
    what = f"{not_regular(blocked) or 'is a file'}, not a folder"
    where = f"{option} {folder}" + ("" if blocked == folder else f" cannot be made: {blocked}")
    return f"{where} {what}; pick another {option}"


OURS = (".ckpt", ".json", ".onnx")  # what fit.py writes in its folder: partial copies of these are swept
NAME_KEPT = 200  # of a file's name in its temporary name: with "." + pid + ".old.part" it stays under 255


class Busy(PixelsenseError):
    """Another process is writing into the folder; the message says which and what to do."""


@contextmanager
def exclusive(folder: str | os.PathLike, user: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (made if needed) for the block, or raise Busy at once.

    The lock is on the folder itself (``flock``), so no lock file is left behind, and the system drops it
    when its holder dies, even by SIGKILL: a crashed run never blocks the next one. Partial files that a
    killed process left (``.<name>.<pid>.part``) are removed once the lock is held; a live process's, and
    ``.part`` files not named so, stay. ``user`` names the option that chose the folder, for the message.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; run unlocked
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{folder} is in use by another run that is writing into it; wait for it to finish "
                       f"or pick another {user}.") from None  # fmt: skip
        _sweep(folder, ends=OURS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def check_writable(folder: str | os.PathLike) -> None:
    """Raise the OSError that writing into ``folder`` would raise, now: make it if needed and write a
    throw-away file there."""
    import tempfile

    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:  # the folder the user named, not the throw-away file
        raise OSError(err.errno, err.strerror, str(folder)) from None


class OutputIsInput(PixelsenseError):
    """An output path names a file the command also reads; the message says which and what to do."""


def check_not_input(
    output: str | os.PathLike, inputs: Iterable[str | os.PathLike], option: str, what: str = "an input"
) -> None:
    """Raise OutputIsInput when writing ``output`` (given as ``option``) would replace one of ``inputs``:
    the same file through another spelling, ``..``, a symbolic link or a hard link. ``what`` names the
    inputs in the message (e.g. "the --ckpt file")."""
    try:
        out = os.stat(output)
    except OSError:  # nothing there yet: only the same path can be the same file
        out = None
    target = os.path.realpath(output)
    for each in inputs:
        try:
            same = os.path.samestat(out, os.stat(each)) if out else os.path.realpath(each) == target
        except OSError:  # an input that is not there cannot be replaced
            continue
        if same:
            shown = "" if os.fspath(each) == os.fspath(output) else f" ({each})"
            raise OutputIsInput(f"{option} {output} is {what}{shown}; writing it would destroy that, so "
                                f"nothing was done: choose another {option}.")  # fmt: skip


def file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """The file (or anything else but a folder) at ``folder`` or at one of its parents: while it is there,
    nothing can be read from or written into ``folder``."""
    for path in (Path(folder), *Path(folder).parents):
        if path.is_symlink() or path.exists():
            return None if path.is_dir() else path
    return None
