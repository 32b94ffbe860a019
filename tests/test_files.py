"""pixelsense.files: whole-or-nothing writes, result folders replaced as one change, the folder lock."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pixelsense.files import Busy, atomic_files, atomic_path, exclusive, output, stream_fd


def test_a_failed_write_names_the_real_file_and_leaves_the_old_one(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(OSError) as caught, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.csv"]


def test_a_write_that_came_to_nothing_leaves_no_new_folders(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.csv"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError("every input failed")
    assert os.listdir(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"


def _results(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_results_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "report"
    (out / "figs").mkdir(parents=True)
    for name in ("a.md", "figs/b.png", "mine.txt"):
        (out / name).write_text(f"old {name}")
    with atomic_files(out) as tmp:
        (tmp / "figs").mkdir()
        for name in ("a.md", "figs/b.png", "new.json"):
            (tmp / name).write_text(f"new {name}")
    assert _results(out) == {"a.md": "new a.md", "figs/b.png": "new figs/b.png", "mine.txt": "old mine.txt",
                             "new.json": "new new.json"}  # fmt: skip
    assert os.listdir(tmp_path) == ["report"]  # no temporary folder left


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_when_one_file_cannot_be_replaced_none_is(tmp_path, monkeypatch, fail_at):
    out = tmp_path / "report"
    out.mkdir()
    for name in ("a.md", "b.png", "c.json"):
        (out / name).write_text(f"old {name}")
    before = _results(out)
    real, calls = Path.replace, []

    def replace(self, target):
        if Path(target).parent == out:  # a new file moving into the folder
            calls.append(target)
            if len(calls) == fail_at:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OSError) as caught, atomic_files(out) as tmp:
        for name in ("a.md", "b.png", "c.json", "d.txt"):
            (tmp / name).write_text(f"new {name}")
    assert caught.value.filename == str(out / ("a.md", "b.png", "c.json")[fail_at - 1])
    assert _results(out) == before  # the old files, all of them, and no new one
    assert os.listdir(tmp_path) == ["report"]


def test_a_file_where_a_folder_must_go_is_refused_before_anything_moves(tmp_path):
    out = tmp_path / "report"
    (out / "a.md").mkdir(parents=True)
    (out / "b.png").write_text("old")
    with pytest.raises(IsADirectoryError), atomic_files(out) as tmp:
        (tmp / "a.md").write_text("new")
        (tmp / "b.png").write_text("new")
    assert (out / "b.png").read_text() == "old"


def test_the_lock_refuses_a_second_holder_and_dies_with_the_first(tmp_path):
    folder = tmp_path / "ck"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pixelsense.files import exclusive\n"
         "with exclusive(sys.argv[1], '--checkpoint-dir'):\n print('held', flush=True); time.sleep(600)",
         str(folder)], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=r"in use by another run.*pick another --checkpoint-dir"):  # noqa: SIM117
            with exclusive(folder, "--checkpoint-dir"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    (folder / ".last.ckpt.99999.part").write_bytes(b"half a checkpoint")
    with exclusive(folder, "--checkpoint-dir"):  # a killed holder blocks no one, and its leftovers go
        assert list(folder.iterdir()) == []


def test_a_long_name_is_written_and_a_dead_writers_partial_file_is_swept(tmp_path):
    target = tmp_path / ("n" * 250 + ".csv")  # a legal name; ".<name>.<pid>.part" would not be
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".{target.name[:200]}.{dead.pid}.part"  # what a killed writer left
    stale.write_text("half")
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and os.listdir(tmp_path) == [target.name]


def test_an_error_in_a_results_folder_names_the_real_file(tmp_path):
    out = tmp_path / "report"
    with pytest.raises(OSError) as caught, atomic_files(out) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "figure.png"))
    assert caught.value.filename == str(out / "figure.png")


def test_the_lock_sweeps_only_partial_files_of_dead_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "ck"
    folder.mkdir()
    # A user's own files, not ours, even with a dead pid in their names; a live writer's; a dead one's.
    mine = [folder / name for name in (".notes.part", ".draft.v2.part", f".notes.{dead.pid}.part",
                                       f".a.b.{dead.pid}.tmp.part", f".thesis.ckpt.{dead.pid}.part")]  # fmt: skip
    writing = [folder / f".model.onnx.{os.getppid()}.part", folder / f".x.json.{os.getppid()}.old.part"]
    left = [folder / f".last.ckpt.{dead.pid}.part", folder / f".metrics.json.{dead.pid}.old.part"]
    for path in (*mine[:-1], *writing, *left):
        path.write_text("bytes")
    mine[-1].mkdir()  # a folder: never swept here
    with exclusive(folder, "--checkpoint-dir"):
        assert sorted(folder.iterdir()) == sorted([*mine, *writing])


def test_a_stream_or_a_fifo_is_never_renamed_over_and_output_appends_to_a_stream(tmp_path):
    """/dev/fd/N (as /dev/stdout under ``>>``) resolves to the file a shell opened: renaming over it would
    lose that file. atomic_path refuses it and a FIFO; output() writes to the stream where it stands."""
    log = tmp_path / "log.txt"
    log.write_text("line1\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    try:
        for target in (f"/dev/fd/{fd}", f"/proc/self/fd/{fd}", fifo):
            with pytest.raises(OSError, match="not a regular file"), atomic_path(target) as tmp:
                tmp.write_text("never")
        with output(f"/dev/fd/{fd}") as out:
            out.write("row\n")
    finally:
        os.close(fd)
    assert log.read_text() == "line1\nrow\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "fifo",
        "log.txt",
    ]
    assert stream_fd("-") == 1 and stream_fd("/dev/stderr") == 2 and stream_fd("/dev/fd/x") is None
