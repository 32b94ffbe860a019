"""A real fit.py process killed with SIGKILL, mid-epoch or mid-checkpoint-write, then resumed: it finishes
with the weights and test numbers of the run that was never killed. And the checkpoint folder's permissions
(its lock: the row fit-two-runs-into-one-checkpoint-dir in tests/bad_training.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from conftest import fake_files

from pixelsense.train.callbacks import Stopwatch

ROOT = Path(__file__).resolve().parents[2]
KILLED = -signal.SIGKILL


def args(data: Path, out: Path) -> list[str]:
    # 300 training images in batches of 64: 5 steps an epoch (one Lightning step: STEPS_PER_CALL); dropout
    # and flips make every draw count.
    return ["--model", "ann", "--hidden", "32", "--epochs", "3", "--batch-size", "64", "--dropout", "0.3",
            "--data-dir", str(data), "--no-download", "--accelerator", "cpu", "--no-export",
            "--checkpoint-dir", str(out / "ck"), "--logdir", str(out / "runs")]  # fmt: skip


def killed_fit(
    *argv: str, user: tuple[str, ...] = (), home: Path | None = None, slow_writes: float | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"HOME": str(home)} if home else {})}
    if slow_writes is not None:
        env["SLOW_WRITES"] = str(slow_writes)
    return subprocess.run([*user, sys.executable, str(ROOT / "tests" / "killed_fit.py"), *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def finished(out: Path) -> tuple[dict, dict]:
    metrics = json.loads((out / "ck" / "metrics.json").read_text())
    weights = torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    return metrics, weights


def same_run(resumed: Path, reference: Path) -> None:
    (got, got_weights), (want, want_weights) = finished(resumed), finished(reference)
    for key in ("test_accuracy", "test_loss", "test_f1_macro", "confusion_matrix", "epochs"):
        assert got[key] == want[key], key
    assert Path(got["best_checkpoint"]).name == Path(want["best_checkpoint"]).name
    assert got_weights.keys() == want_weights.keys()
    for name, tensor in want_weights.items():
        assert torch.equal(got_weights[name], tensor), name


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> Path:
    """Fake Fashion-MNIST for the fit.py processes (tests/killed_fit.py accepts whatever --data-dir holds)."""
    raw = tmp_path_factory.mktemp("fake") / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, content in fake_files().items():
        (raw / name).write_bytes(content)
    return raw.parents[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fake) -> Path:
    """The run that is never stopped. Every run here is a fresh fit.py process with the same settings (the
    same threads, above all: a different number sums in another order, which changes the last bits)."""
    out = tmp_path_factory.mktemp("reference")
    done = killed_fit("run", *args(fake, out))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def resumed(data: Path, out: Path) -> None:
    done = killed_fit("run", *args(data, out), "--resume")
    assert done.returncode == 0, done.stderr[-2000:]


def test_sigkill_mid_epoch_then_resume_is_the_uninterrupted_run(tmp_path, fake, reference):
    out = tmp_path / "killed"
    crash = killed_fit("step", "1", "3", "KILL", *args(fake, out))  # after step 3 of 5 of epoch 2
    assert crash.returncode == KILLED, crash.stderr[-2000:]
    assert not (out / "ck" / "metrics.json").exists()
    saved = torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["epoch"] == 0  # the first epoch finished; the second was lost mid-way
    before = saved["callbacks"]["Stopwatch"]["seconds"]

    resumed(fake, out)
    same_run(out, reference)
    metrics, _ = finished(out)
    assert metrics["train_seconds"] >= round(before, 1) > 0  # the killed run's epoch is counted


def test_sigkill_while_writing_a_checkpoint_leaves_the_last_good_one(tmp_path, fake, reference):
    out = tmp_path / "killed"
    # Writes: epoch 0 best (1), last (2); epoch 1 best (3, the fake data keeps improving), last (4).
    crash = killed_fit("write", "4", *args(fake, out))
    assert crash.returncode == KILLED, crash.stderr[-2000:]
    ck = out / "ck"
    partial = [p.name for p in ck.iterdir() if p.name.endswith(".part")]
    assert partial, "the kill should have left its half-written temporary file"
    for path in ck.glob("*.ckpt"):  # every file under a real name loads
        torch.load(path, map_location="cpu", weights_only=True)
    resumed(fake, out)
    assert not [p for p in ck.iterdir() if p.name.endswith(".part")]  # the next run cleared it away
    same_run(out, reference)


def test_sigkill_after_the_last_epoch_then_resume_writes_the_report(tmp_path, fake, reference):
    out = tmp_path / "killed"
    crash = killed_fit("test", *args(fake, out))  # every epoch done, the test and the report not
    assert crash.returncode == KILLED, crash.stderr[-2000:]
    assert (out / "ck" / "last.ckpt").is_file() and not (out / "ck" / "metrics.json").exists()
    resumed(fake, out)
    same_run(out, reference)
    again = killed_fit("run", *args(fake, out), "--resume")  # now it is complete: nothing to resume
    assert again.returncode == 2 and "has already trained 3 epochs" in again.stderr


@pytest.mark.parametrize("name", ["TERM", "INT"])
def test_sigterm_or_ctrl_c_is_one_line_exit_130_and_resumes_exactly(tmp_path, fake, reference, name):
    out = tmp_path / "stopped"
    # Each write takes half a second: the stop comes while the first epoch's two checkpoints are still being
    # written beside the training, and the fit waits for them before it exits.
    stop = killed_fit("step", "1", "3", name, *args(fake, out), slow_writes=0.5)
    assert stop.returncode == 130 and "Traceback" not in stop.stderr, stop.stderr[-2000:]
    last = out / "ck" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 0 and list(
        (out / "ck").glob("best*")
    )
    assert stop.stderr.strip().splitlines()[-1] == (
        f"fit.py: stopped by SIG{name}; {last} holds the last finished epoch: run again with --resume to go "
        "on from there."
    )
    assert not [p for p in (out / "ck").iterdir() if p.name.endswith(".part")]
    resumed(fake, out)
    same_run(out, reference)


def test_stopwatch_adds_the_time_of_the_runs_it_resumes():
    watch = Stopwatch()
    watch.load_state_dict({"seconds": 41.5})
    watch.on_fit_start(None, None)
    assert 41.5 <= watch.seconds < 60 and watch.state_dict()["seconds"] >= 41.5


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become nobody")
def test_a_checkpoint_dir_that_cannot_be_written_fails_at_the_start(fake_data):
    """As a user who may not write there (root may write anywhere, so the run is nobody's)."""
    top = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        shutil.copytree(fake_data, top / "data")
        for name in ("runs", "ck", "home"):
            (top / name).mkdir()
        for path in [top, *top.rglob("*")]:  # readable by all; runs/ and home/ writable
            path.chmod(0o777 if path.name in ("runs", "home") else 0o755)
        fit = ("run", "--model", "ann", "--epochs", "1", "--data-dir", str(top / "data"), "--no-download",
               "--accelerator", "cpu", "--checkpoint-dir", str(top / "ck"), "--logdir", str(top / "runs"))  # fmt: skip
        done = killed_fit(*fit, user=NOBODY, home=top / "home")
        assert done.returncode == 2, done.stderr[-2000:]
        assert (
            done.stderr.strip()
            == (
                f"fit.py: error: {top / 'ck'}: Permission denied; pick another --checkpoint-dir."  # the one it was
            )
        )
        assert "training" not in done.stdout  # refused before any work, not after the training
        assert list((top / "ck").iterdir()) == [] and list((top / "runs").iterdir()) == []
    finally:
        shutil.rmtree(top)
