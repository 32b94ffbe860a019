"""The decoding pool's life: a stop ends it at once, a worker that dies fails its own files and the rest go
on, and workers never outlive their main process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_photo import MODEL, ROOT, garment, mixed_folder

from pixelsense.infer.decoding import AHEAD, TASK, cores

LINUX_2_CORES = pytest.mark.skipif(
    not Path("/proc/self/task").exists() or cores() < 2, reason="Linux /proc, 2 cores"
)


def big_folder(folder: Path, count: int = TASK + 8) -> Path:
    """``count`` copies of a slow image (a 49-megapixel PNG: a fraction of a second to decode each; copies,
    since predict.py reads a file under several names once)."""
    folder.mkdir()
    image = np.zeros((7000, 7000), np.uint8)
    image[1000:6000, 2000:5000] = 200
    Image.fromarray(image).save(folder / "0.png")
    for i in range(1, count):
        (folder / f"{i}.png").write_bytes((folder / "0.png").read_bytes())
    return folder


def start(folder: Path, out: Path) -> subprocess.Popen:
    argv = [sys.executable, str(ROOT / "scripts" / "predict.py"), "--model", str(MODEL), str(folder), "--output",
            str(out), "--workers", "2"]  # fmt: skip
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)


def workers_of(process: subprocess.Popen, timeout: float = 60.0) -> list[int]:
    """The pids of the process's children once the pool has started."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        if len(pids) >= 2:
            return pids
        time.sleep(0.05)
    raise AssertionError("the decoding pool did not start")


@LINUX_2_CORES
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_stop_ends_the_pool_at_once(tmp_path, how):
    process = start(big_folder(tmp_path / "big"), tmp_path / "out.csv")
    workers_of(process)
    time.sleep(0.5)  # decoding
    if how == "ctrl-c":  # a terminal sends SIGINT to the whole foreground group: the workers get it too
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob(".out.csv*"))
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):  # no worker is left behind
        os.killpg(process.pid, 0)


HALF_SENT = """
import os, struct, sys, time
from pathlib import Path
from pixelsense.infer import decoding
from pixelsense.cli import predict_main

def half_sent(paths, invert, model):
    results = sys._getframe(1).f_locals["result_queue"]  # the pool's, in concurrent.futures' worker loop
    with results._wlock:  # held as a send holds it: the other worker's results wait
        os.write(results._writer.fileno(), struct.pack("!i", 2**20) + bytes(1024))  # 1 KB of 1 MB
        Path(sys.argv[1], str(os.getpid())).touch()
        if sys.argv[2] == "die":
            os._exit(1)  # as a crash or the out-of-memory killer would end it
        time.sleep(600)

decoding._task = half_sent  # the workers are forked: theirs too
sys.exit(predict_main(sys.argv[3:]))
"""


def half_sent(tmp_path: Path, then: str, files: int) -> tuple[subprocess.Popen, Path, Path]:
    """predict.py over ``files`` photos with 2 workers, each of which sends the start of a result and then
    waits (``then`` "wait") or dies ("die"); the process, the folder a worker marks when it has sent, the
    output."""
    folder, sent, out = tmp_path / "photos", tmp_path / "sent", tmp_path / "out.csv"
    folder.mkdir()
    sent.mkdir()
    for i in range(files):
        Image.fromarray(garment(i)).save(folder / f"{i}.png")
    argv = [sys.executable, "-c", HALF_SENT, str(sent), then, "--model", str(MODEL), str(folder), "--output",
            str(out), "--workers", "2"]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return process, sent, out


def ended(process: subprocess.Popen) -> str:
    """stderr, once the process has ended; a hang becomes a failure."""
    try:
        return process.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError("predict.py hung with a worker half-way through sending a result") from None


@LINUX_2_CORES
def test_a_stop_while_a_worker_is_half_way_through_sending_a_result_ends_the_pool(tmp_path):
    """The pool's thread is reading a result that a worker has sent the start of when the stop kills it:
    the run still ends at once, rather than wait forever for the rest."""
    process, sent, out = half_sent(tmp_path, "wait", TASK + 8)
    deadline = time.monotonic() + 60
    while not any(sent.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    err = ended(process)
    assert process.returncode == 130, err
    assert err.strip() == f"predict.py: stopped by SIGINT; --output {out} was not written."
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))
    with pytest.raises(ProcessLookupError):  # no worker is left behind
        os.killpg(process.pid, 0)


@LINUX_2_CORES
def test_a_worker_that_dies_half_way_through_sending_a_result_fails_its_files_alone(tmp_path):
    """No stop comes to end the wait for the rest of the result: the dead worker is found all the same,
    its files (and those queued to the pool) fail, and the rest are predicted here."""
    files, queued = 6 * TASK, 2 * AHEAD * TASK
    process, _, out = half_sent(tmp_path, "die", files)
    err = ended(process)
    assert process.returncode == 1 and "Traceback" not in err, err
    died = [line for line in err.splitlines() if "a decoding worker died" in line]
    rows = out.read_text().splitlines()[1:]
    assert 0 < len(died) <= queued and len(rows) + len(died) == files
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


@LINUX_2_CORES
def test_a_killed_worker_fails_its_files_and_the_rest_go_on(tmp_path):
    queued = 2 * AHEAD * TASK  # the most that a killed worker can take with it: the tasks queued to the pool
    files = 2 * queued
    folder = big_folder(tmp_path / "big", count=TASK // 2)  # the first task is slow, the rest fast
    for i in range(TASK // 2, files):
        Image.fromarray(garment(i)).save(folder / f"{i}.png")
    process = start(folder, tmp_path / "out.csv")
    worker = workers_of(process)[0]
    time.sleep(1.5)  # the model is open and the first tasks are being decoded
    os.kill(worker, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    died = [line for line in err.splitlines() if "a decoding worker died" in line]
    assert died and "Traceback" not in err, err
    rows = (tmp_path / "out.csv").read_text().splitlines()[1:]
    assert len(rows) + len(died) == files and len(died) <= queued


@LINUX_2_CORES
def test_workers_end_when_their_main_process_is_killed(tmp_path):
    process = start(big_folder(tmp_path / "big"), tmp_path / "out.csv")
    workers = workers_of(process)
    process.kill()  # SIGKILL: the main process cannot stop the pool itself
    process.wait()
    assert all_end(workers)


def running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()  # a zombie has ended; it waits to be reaped
    except FileNotFoundError:
        return False


def all_end(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(map(running, pids))


@LINUX_2_CORES
def test_a_worker_whose_main_process_died_before_it_started_ends(tmp_path):
    """The main process gone the moment its first worker is forked (before the worker could note who its
    parent is): the worker still ends, it does not wait on the pool forever."""
    folder = mixed_folder(tmp_path / "photos")
    script = f"""
import os
from pathlib import Path
from pixelsense.infer.decoding import Decoder
from pixelsense.paths import expand
os.register_at_fork(after_in_child=lambda: Path({str(tmp_path)!r}, str(os.getpid())).touch(),
                    after_in_parent=lambda: os._exit(0))
Decoder("auto", 2, {str(MODEL)!r}).start(expand([{str(folder)!r}]))
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60, check=True)
    workers = [int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()]
    assert workers and all_end(workers, 5)
