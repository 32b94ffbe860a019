"""Rows of tests/test_bad_inputs.py: fit.py's folders, locks, resume and full disk; compare.py and explain.py."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import torch
from badinput import Bad, full_disk, one_line, unmount

FIT = ("--data-dir", "{data}", "--no-download", "--accelerator", "cpu", "--logdir", "{tmp}/runs",
       "--model", "ann", "--hidden", "16")  # fmt: skip
INTO = ("--checkpoint-dir", "{tmp}/ck")
HELD: list[int] = []  # descriptors holding folder locks until the row's teardown


def _file(name: str, content: bytes = b"not a folder"):
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)

    return setup


def _fifo(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True)
        os.mkfifo(tmp / name)

    return setup


def _last(change=None):
    """ck/last.ckpt: the shared one-epoch ANN checkpoint, changed by ``change`` (a function of its dict)."""

    def setup(tmp: Path) -> None:
        (tmp / "ck").mkdir()
        source = next(tmp.glob("best-*.ckpt"))
        if change is None:
            shutil.copy(source, tmp / "ck" / "last.ckpt")
            return
        state = torch.load(source, map_location="cpu", weights_only=True)
        torch.save(change(state), tmp / "ck" / "last.ckpt")

    return setup


def _best_gone(state: dict) -> dict:
    """A checkpoint whose run folder, best checkpoint included, is gone."""
    for key, callback in state["callbacks"].items():
        if "best_model_path" in callback and "val/acc" in key:
            name = Path(callback["best_model_path"]).name
            callback.update(dirpath="/gone/run", best_model_path=f"/gone/run/{name}", best_k_models={})
    return state


def _finished(tmp: Path) -> None:
    """A complete run: every epoch in last.ckpt, and its report (metrics.json, written last)."""
    _last()(tmp)
    (tmp / "ck" / "metrics.json").write_text('{"epochs": 1}')


def _lock(tmp: Path) -> None:
    (tmp / "ck").mkdir()
    fd = os.open(tmp / "ck", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in progress holds it
    HELD.append(fd)


def _unlock(tmp: Path) -> None:
    while HELD:
        os.close(HELD.pop())


def _nothing_went_in(tmp: Path, err: str) -> None:
    """One line, and the held folder as the first run left it: nothing of the refused run's went in."""
    one_line(tmp, err)
    assert list((tmp / "ck").iterdir()) == []


def _planned(epochs: int):
    """The checkpoint of a run started for ``epochs`` epochs (and stopped after its first)."""

    def change(state: dict) -> dict:
        state["callbacks"]["RunConfig"]["config"]["epochs"] = epochs
        return state

    return change


def _with_a_copy_of_its_best(tmp: Path) -> None:
    """A stopped run whose folder holds its best checkpoint and a user's copy of it, named as a file
    manager names a copy."""
    _last()(tmp)
    best = next(tmp.glob("best-*.ckpt"))
    shutil.copy(best, tmp / "ck" / best.name)
    shutil.copy(best, tmp / "ck" / f"{best.stem}-mycopy.ckpt")


def _copy_kept(tmp: Path, err: str) -> None:
    """The user's copy is there, unchanged (the snapshot checks its bytes), beside the run's new files."""
    assert len(list((tmp / "ck").glob("*-mycopy.ckpt"))) == 1
    assert (tmp / "ck" / "metrics.json").is_file()


def _without(key: str):
    return lambda state: {k: v for k, v in state.items() if k != key}


ROWS: list[Bad] = [
    # fit.py: folders
    Bad("fit-checkpoint-dir-is-a-file", "fit", (*FIT, "--fast-dev-run", "--checkpoint-dir", "{tmp}/ck"), 2,
        r"--checkpoint-dir \S*/ck is a file, not a folder; pick another --checkpoint-dir\.$", _file("ck")),
    Bad("fit-checkpoint-dir-under-a-file", "fit", (*FIT, "--fast-dev-run", "--checkpoint-dir", "{tmp}/f/ck"), 2,
        r"--checkpoint-dir \S*/f/ck cannot be made: \S*/f is a file, not a folder; pick another --checkpoint-dir\.$",
        _file("f"), then=one_line),
    Bad("fit-logdir-is-a-file", "fit", (*FIT, *INTO, "--fast-dev-run", "--logdir", "{tmp}/logs"), 2,
        r"--logdir \S*/logs is a file, not a folder; pick another --logdir\.$", _file("logs")),
    Bad("fit-two-runs-into-one-checkpoint-dir", "fit", (*FIT, *INTO, "--epochs", "1"), 2,
        r"ck is in use by another run.*pick another --checkpoint-dir", _lock, teardown=_unlock,
        then=_nothing_went_in),
    Bad("fit-full-disk", "fit", (*FIT, "--epochs", "1", "--no-export", "--checkpoint-dir", "{tmp}/full/ck",
        "--hidden", "256"), 2, r"full/ck/.*\.ckpt: the disk is full; free some space", full_disk("full", "160k"),
        teardown=unmount("full")),
    # fit.py: --resume
    Bad("fit-resume-keeps-a-users-copy-of-the-best", "fit", (*FIT, *INTO, "--epochs", "2", "--resume",
        "--no-export"), 0, "", _with_a_copy_of_its_best, changes=("ck/last.ckpt", "ck/best-epoch??-acc?.????.ckpt"),
        then=_copy_kept),
    Bad("fit-resume-nothing", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"nothing to resume: .*last.ckpt does not exist"),
    Bad("fit-resume-damaged", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"last.ckpt is damaged .*; move it away", _file("ck/last.ckpt", b"PK\x03\x04 half a zip")),
    Bad("fit-resume-empty-file", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"last.ckpt is damaged", _file("ck/last.ckpt", b"")),
    Bad("fit-resume-no-optimizer-state", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"last.ckpt cannot be resumed: it has no optimizer_states", _last(_without("optimizer_states"))),
    Bad("fit-resume-no-loop-state", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"last.ckpt cannot be resumed: it has no loops", _last(_without("loops"))),
    Bad("fit-resume-another-model", "fit", (*FIT[:-4], "--model", "cnn", *INTO, "--epochs", "2", "--resume"),
        2, r"holds a 'ann' model, not 'cnn'; pass the matching --model", _last()),
    Bad("fit-resume-other-widths", "fit", (*FIT[:-1], "32", *INTO, "--epochs", "2", "--resume"), 2,
        r"was trained with --hidden 16, not --hidden 32; resume with", _last()),
    Bad("fit-resume-already-finished", "fit", (*FIT, *INTO, "--epochs", "1", "--resume"), 2,
        r"has already trained 1 epochs; pass --epochs above 1", _finished),
    Bad("fit-resume-with-another-seed", "fit", (*FIT, *INTO, "--epochs", "2", "--seed", "5", "--resume"), 2,
        r"last.ckpt was trained with --seed 0, not --seed 5; resume with the run's settings", _last()),
    Bad("fit-resume-with-another-batch-size", "fit", (*FIT, *INTO, "--epochs", "2", "--batch-size", "64",
        "--resume"), 2, r"was trained with --batch-size 256, not --batch-size 64", _last()),
    Bad("fit-resume-with-fewer-epochs-than-planned", "fit", (*FIT, *INTO, "--epochs", "1", "--resume"), 2,
        r"last.ckpt is a run of 3 epochs .*resume with --epochs 3", _last(_planned(3))),
    Bad("fit-resume-a-folder", "fit", (*FIT, *INTO, "--epochs", "2", "--resume"), 2,
        r"last\.ckpt is a folder, not a file; move it away", lambda tmp: (tmp / "ck" / "last.ckpt").mkdir(parents=True)),
    Bad("fit-resume-with-its-best-checkpoint-gone", "fit", (*FIT, *INTO, "--epochs", "1", "--resume"), 2,
        r"this run's best checkpoint, is missing, so it cannot be tested", _last(_best_gone)),
    Bad("fit-new-run-beside-a-run-with-no-last-ckpt", "fit", (*FIT, *INTO, "--epochs", "1"), 2,
        r"holds another run's files \(best-epoch00-acc0\.5000\.ckpt\) but no last\.ckpt to resume from; move them",
        lambda tmp: (tmp / "ck").mkdir() or shutil.copy(next(tmp.glob("best-*.ckpt")), tmp / "ck" / "best-epoch00-acc0.5000.ckpt")),
    Bad("fit-new-run-into-a-run", "fit", (*FIT, *INTO, "--epochs", "1"), 2,
        r"ck already holds a run \(last\.ckpt\); pass --resume to go on with it", _last()),
    # fit.py: data
    Bad("fit-no-data-and-no-download", "fit", (*FIT[2:], "--data-dir", "{tmp}/nodata", "--no-download", *INTO,
        "--fast-dev-run"), 2, r"is missing and downloading is off"),
    # compare.py and explain.py
    Bad("compare-only-one-model", "compare", ("--ann", "{ckpt}"), 2, r"give both --ann and --cnn"),
    Bad("compare-seeds-with-checkpoints", "compare", ("--ann", "{ckpt}", "--cnn", "{ckpt}", "--seeds", "2"), 2,
        r"--seeds trains new runs; drop it when you pass --ann and --cnn"),
    Bad("compare-zero-seeds", "compare", ("--seeds", "0"), 2, r"--seeds: must be at least 1, not 0"),
    Bad("compare-ann-given-as-cnn", "compare", ("--ann", "{ckpt}", "--cnn", "{ckpt}", "--data-dir", "{data}"),
        2, r"holds the ANN, but was given to --cnn"),
    Bad("compare-missing-checkpoint", "compare", ("--ann", "{tmp}/none.ckpt", "--cnn", "{ckpt}"), 2,
        r"none.ckpt"),
    Bad("compare-not-a-checkpoint", "compare", ("--ann", "{tmp}/x.ckpt", "--cnn", "{ckpt}"), 2,
        r"x.ckpt cannot be read as a checkpoint", _file("x.ckpt", b"hello")),
    Bad("explain-zero-seeds", "explain", ("--seeds", "0"), 2, r"--seeds: must be at least 1, not 0"),
    Bad("explain-output-dir-is-a-file", "explain", ("--quick", "--seeds", "1", "--data-dir", "{data}",
        "--no-download", "--output-dir", "{tmp}/why", "--compare-dir", "{tmp}/none"), 2,
        r"why.*pick another --output-dir", _file("why")),
    # fit.py: precisions and strategies it cannot train with, folders and data files in the way
    *[Bad(f"fit-precision-{value}", "fit", (*FIT, *INTO, "--fast-dev-run", "--precision", value), 2,
          r"--precision must be one of auto, 32-true, 32, bf16-mixed, 16-mixed: the network takes float32",
          then=one_line) for value in ("64", "bf16-true", "16-true", "transformer-engine")],
    Bad("fit-precision-16-mixed-on-a-cpu", "fit", (*FIT, *INTO, "--fast-dev-run", "--precision", "16-mixed"), 2,
        r"--precision 16-mixed needs a CUDA GPU .*; use one of auto, 32-true, 32, bf16-mixed\.$"),
    Bad("fit-strategy-ddp-spawn", "fit", (*FIT, *INTO, "--fast-dev-run", "--strategy", "ddp_spawn", "--devices",
        "1"), 2, r"--strategy ddp_spawn trains in processes it starts itself.*use --strategy ddp, which fit.py"),
    Bad("fit-strategy-ddp-fork", "fit", (*FIT, *INTO, "--fast-dev-run", "--strategy", "DDP_Fork", "--devices",
        "1"), 2, r"--strategy DDP_Fork trains in processes it starts itself"),
    Bad("fit-logdir-under-a-file", "fit", (*FIT, *INTO, "--fast-dev-run", "--logdir", "{tmp}/f/logs"), 2,
        r"--logdir \S*/f/logs cannot be made: \S*/f is a file, not a folder; pick another --logdir\.$", _file("f")),
    Bad("fit-checkpoint-dir-is-a-broken-link", "fit", (*FIT, *INTO, "--fast-dev-run"), 2,
        r"--checkpoint-dir \S*/ck is a broken symbolic link \(to \S*gone\), not a folder; pick another",
        lambda tmp: (tmp / "ck").symlink_to(tmp / "gone")),
    Bad("fit-fifo-in-place-of-an-idx-file", "fit", (*FIT[2:], "--data-dir", "{tmp}/d", "--no-download", *INTO,
        "--fast-dev-run"), 2, r"t10k-labels-idx1-ubyte is not a regular file \(a FIFO, socket or device\), where "
        "that IDX file should be; move it away", _fifo("d/FashionMNIST/raw/t10k-labels-idx1-ubyte")),
]  # fmt: skip
