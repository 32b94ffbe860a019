"""The row type of tests/test_bad_inputs.py and what every row must show: the exit code, one clear line,
no traceback, and nothing on disk damaged."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path


@dataclass(frozen=True)
class Bad:
    """One bad input or fault: run ``command`` with ``args`` after ``setup`` made the bad thing in ``tmp``.

    ``args`` may name ``{tmp}`` (the row's own folder), ``{data}`` (fake Fashion-MNIST), ``{model}`` (a tiny
    pixelsense ONNX model), ``{ckpt}`` (a tiny checkpoint) and ``{images}`` (a folder of good images).
    """

    id: str
    command: str  # fit, get_data, export, evaluate, compare, explain, bench, predict, photos
    args: tuple[str, ...]
    exit: int
    says: str  # a regular expression, searched in stderr's error line ("" for a run that says nothing there)
    setup: Callable[[Path], None] | None = None
    teardown: Callable[[Path], None] | None = None  # undoes what setup did outside tmp (a mount, a lock)
    # Files under tmp the command may write or remove (its outputs, as glob patterns); everything else stays.
    changes: tuple[str, ...] = ()
    then: Callable[[Path, str], None] | None = None  # the row's own further check, of tmp and stderr


def snapshot(*folders: Path) -> dict[Path, str]:
    """Every file under ``folders``, by SHA-256 (symbolic links and special files by what they are)."""
    seen: dict[Path, str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                seen[path] = "special"
            elif path.is_file():
                try:
                    seen[path] = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    seen[path] = "unreadable"
    return seen


def check(row: Bad, code: int, err: str, before: dict[Path, str], after: dict[Path, str], tmp: Path) -> None:
    """What every row promises."""
    assert "Traceback" not in err, err
    assert code == row.exit, f"exit {code}, not {row.exit}: {err}"
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(row.says, line)]
    assert errors or (row.exit == 0 and not row.says), f"no stderr line matches {row.says!r}: {err}"
    if row.exit == 2:  # one refusal, after the lines of any inputs it names; no warning, no usage block
        assert len([line for line in lines if ": error: " in line]) == 1, err
        assert all(
            re.match(r"[\w.]+( [\w-]+)?: ", line) and not line.startswith("usage:") for line in lines
        ), err

    def allowed(path: Path) -> bool:
        return path.is_relative_to(tmp) and any(
            fnmatch(str(path.relative_to(tmp)), name) for name in row.changes
        )

    for path, digest in before.items():
        if not allowed(path):
            assert after.get(path) == digest, f"{path} was changed or removed"
    leftovers = [p for p in after if p.name.endswith(".part")]
    assert not leftovers, f"partial files left: {leftovers}"
    if row.then is not None:
        row.then(tmp, err)


def one_line(tmp: Path, err: str) -> None:
    """A ``then``: stderr is the one line of the refusal, nothing beside it."""
    assert err.strip().count("\n") == 0, err


def full_disk(folder: str, size: str, options: str = ""):
    """A tmpfs of ``size`` at tmp/folder: a real full disk (root only; the row skips elsewhere). ``options``:
    more mount options (",ro": a read-only disk)."""

    def setup(tmp: Path) -> None:
        (tmp / folder).mkdir(parents=True)
        mount = ["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(tmp / folder)]
        if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode:
            import pytest

            pytest.skip("making a full disk needs root and tmpfs")

    return setup


def unmount(folder: str):
    return lambda tmp: subprocess.run(["umount", str(tmp / folder)], capture_output=True)


STREAM_FD = 99  # a descriptor a row's setup opens for appending, as a shell's ``>> log`` opens stdout
KEPT = "line1\nline2\n"


def appending(name: str):
    """Setup: tmp/``name`` holding two lines, open for appending on STREAM_FD, so that /dev/fd/99 names a
    stream that resolves to a regular file (as /dev/stdout does under ``>> log``)."""

    def setup(tmp: Path) -> None:
        (tmp / name).write_text(KEPT)
        fd = os.open(tmp / name, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, STREAM_FD)
        os.close(fd)

    return setup


def close_stream(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        os.close(STREAM_FD)


def appended(name: str):
    """Then: tmp/``name`` still starts with its two lines, and the command's output follows them."""

    def then(tmp: Path, err: str) -> None:
        text = (tmp / name).read_text()
        assert text.startswith(KEPT) and len(text) > len(KEPT), text

    return then
