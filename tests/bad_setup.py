"""Rows of tests/test_bad_inputs.py: setup: fit.py's values and --config files, get_data.py, export.py,
evaluate.py and bench.py."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from datetime import date
from pathlib import Path

import torch
from badinput import STREAM_FD, Bad, appended, appending, close_stream, full_disk, unmount
from conftest import fake_files

# fit.py rows are refused before training; were one to pass, it would be one quick batch.
FIT = ("--model", "ann", "--fast-dev-run", "--no-download", "--data-dir", "{data}", "--checkpoint-dir",
       "{tmp}/ck", "--logdir", "{tmp}/runs", "--accelerator", "cpu")  # fmt: skip
CNN = ("--model", "cnn", *FIT[2:])
EXPORT = ("--ckpt", "{ckpt}", "--out", "{tmp}/m.onnx", "--data-dir", "{data}")
EVALUATE = ("--output-dir", "{tmp}/eval", "--data-dir", "{data}", "--no-download")
PHOTOS = ("--data-dir", "{data}", "--no-download")
GET = ("--data-dir", "{tmp}/d", "--no-download")


def _file(name: str, content: bytes = b"not what it should be"):
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)

    return setup


def _folder(name: str):
    return lambda tmp: (tmp / name).mkdir(parents=True)


def _config(values):
    return _file("config.json", (values if isinstance(values, str) else json.dumps(values)).encode())


def _ckpt(name: str, change):
    """tmp/name: the row's copy of the shared ANN checkpoint (hidden 16), as ``change`` makes it."""

    def setup(tmp: Path) -> None:
        source = next(tmp.glob("best-*.ckpt"))
        torch.save(change(torch.load(source, map_location="cpu", weights_only=True)), tmp / name)

    return setup


def _hparams(**values):
    return lambda state: {**state, "hyper_parameters": {**state["hyper_parameters"], **values}}


def _copy(pattern: str, name: str, cut: int | None = None):
    """tmp/name: a copy of the row's file that matches ``pattern``, cut to ``cut`` bytes if given."""

    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(next(tmp.glob(pattern)).read_bytes()[:cut])

    return setup


def _nan_weights(state):
    """A checkpoint as a diverged training leaves it: every weight NaN."""
    weights = {k: v * float("nan") if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    return {**state, "state_dict": weights}


def _truncated(pattern: str, name: str):
    return _copy(pattern, name, cut=1000)


def _link(name: str, hard: bool = False):
    """tmp/name: another name for the row's checkpoint."""

    def setup(tmp: Path) -> None:
        (os.link if hard else os.symlink)(next(tmp.glob("best-*.ckpt")), tmp / name)

    return setup


def _gz(name: str, content: bytes | None = None, cut: int | None = None):
    """tmp/d/<name>.gz: the fake file gzipped (``content`` instead, if given), cut to ``cut`` bytes."""

    def setup(tmp: Path) -> None:
        (tmp / "d").mkdir(exist_ok=True)
        packed = gzip.compress(fake_files()[name] if content is None else content)
        (tmp / "d" / f"{name}.gz").write_bytes(packed[:cut])

    return setup


def _full_raw(tmp: Path) -> None:
    """The four .gz files in tmp/d, and a 64 KB disk where they are decompressed to."""
    for name in fake_files():
        _gz(name)(tmp)
    full_disk("d/FashionMNIST/raw", "64k")(tmp)


def _copy_model(name: str):
    """Setup: the row's model again under tmp/``name`` (another folder, the same file name)."""

    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(next(tmp.glob("*.onnx")).read_bytes())

    return setup


ROWS: list[Bad] = [
    # Every numeric option has its range, refused in one line (cli.options.RANGES).
    Bad("photos-negative-seed", "photos", ("--models", "{model}", "--seed", "-1", *PHOTOS), 2,
        r"argument --seed: must be at least 0, not -1"),
    Bad("bench-predict-100-million-photos", "bench", ("predict", "--photos", "100000000"), 2,
        r"argument --photos: must be at most 100,000"),
    Bad("bench-predict-100-million-arrays", "bench", ("predict", "--arrays", "100000000"), 2,
        r"argument --arrays: must be at most 2,000,000"),
    Bad("compare-300-threads", "compare", ("--threads", "300"), 2, r"argument --threads: must be at most \d+, the cores"),
    Bad("explain-a-thousand-seeds", "explain", ("--seeds", "1000"), 2, r"argument --seeds: must be at most 100"),
    Bad("bench-serve-requests-in-words", "bench", ("serve", "--requests", "many"), 2,
        r"argument --requests: must be a whole number, not 'many'"),
    # An empty path is never the current folder: one path option type for every command.
    Bad("fit-data-dir-empty", "fit", ("--model", "ann", "--fast-dev-run", "--data-dir", ""), 2,
        r"argument --data-dir: is empty; name a file or a folder"),
    Bad("fit-checkpoint-dir-empty", "fit", (*FIT[:-2], "--checkpoint-dir", ""), 2,
        r"argument --checkpoint-dir: is empty"),
    Bad("fit-logdir-empty", "fit", (*FIT, "--logdir", ""), 2, r"argument --logdir: is empty"),
    Bad("fit-config-empty", "fit", (*FIT, "--config", ""), 2, r"argument --config: is empty"),
    Bad("evaluate-output-dir-empty", "evaluate", ("--onnx", "{model}", "--output-dir", "", "--data-dir", "{data}"), 2,
        r"argument --output-dir: is empty"),
    Bad("export-out-empty", "export", ("--ckpt", "{ckpt}", "--out", ""), 2, r"argument --out: is empty"),
    Bad("get-data-dir-empty", "get_data", ("--data-dir", ""), 2, r"argument --data-dir: is empty"),
    Bad("photos-json-empty", "photos", ("--models", "{model}", "--json", "", *PHOTOS), 2, r"argument --json: is empty"),
    Bad("bench-predict-models-empty", "bench", ("predict", "--models", ""), 2, r"argument --models: is empty"),
    # fit.py: values argparse takes but nothing can train with
    Bad("fit-seed-above-2**32", "fit", (*FIT, "--seed", "4294967296"), 2, r"--seed must be from 0 to 2\*\*32 - 1"),
    Bad("fit-negative-seed", "fit", (*FIT, "--seed", "-1"), 2, r"--seed must be from 0 to 2\*\*32 - 1"),
    Bad("fit-hidden-too-wide", "fit", (*FIT, "--hidden", "10000000"), 2,
        r"--hidden make 7,\d{3},\d{3},\d{3} parameters, more than the 100,000,000 that fit in memory"),
    Bad("fit-channels-too-wide", "fit", (*CNN, "--channels", "100000", "100000"), 2,
        r"--channels and --hidden make [\d,]+ parameters, more than"),
    Bad("fit-too-many-pooling-stages", "fit", (*CNN, "--channels", "8", "8", "8", "8", "8"), 2,
        r"--channels must be at most 4 widths \(each stage halves the 28-pixel side\)"),
    Bad("fit-translate-whole-image", "fit", (*FIT, "--translate", "28"), 2, r"--translate must be at most 27"),
    Bad("fit-negative-translate", "fit", (*FIT, "--translate", "-1"), 2, r"--translate must be 0 or more"),
    Bad("fit-infinite-lr", "fit", (*FIT, "--lr", "inf"), 2, r"--lr must be a finite number"),
    Bad("fit-nan-lr", "fit", (*FIT, "--lr", "nan"), 2, r"--lr must be a finite number"),
    Bad("fit-negative-weight-decay", "fit", (*FIT, "--weight-decay", "-0.1"), 2, r"--weight-decay must be 0 or more"),
    Bad("fit-nan-weight-decay", "fit", (*FIT, "--weight-decay", "nan"), 2, r"--weight-decay must be a finite"),
    Bad("fit-label-smoothing-1", "fit", (*FIT, "--label-smoothing", "1"), 2, r"--label-smoothing must be in \[0, 1\)"),
    Bad("fit-zero-batch", "fit", (*FIT, "--batch-size", "0"), 2, r"--batch-size must be at least 1"),
    Bad("fit-huge-batch", "fit", (*FIT, "--batch-size", "10000000"), 2, r"--batch-size must be at most 60,000"),
    Bad("fit-huge-epochs", "fit", (*FIT, "--epochs", "10000000"), 2, r"--epochs must be at most 10,000"),
    Bad("fit-more-devices-than-cores", "fit", (*FIT, "--devices", "100000"), 2,
        r"--devices must be at most \d+: this machine has \d+ CPU cores?"),
    Bad("fit-zero-nodes", "fit", (*FIT, "--num-nodes", "0"), 2, r"--num-nodes must be at least 1"),
    Bad("fit-nodes-without-a-cluster", "fit", (*FIT, "--num-nodes", "2"), 2,
        r"--num-nodes must be 1 outside a multi-node launch"),
    Bad("fit-epochs-not-a-number", "fit", (*FIT, "--epochs", "ten"), 2, r"--epochs: invalid int value: 'ten'"),
    # fit.py --config: JSON that argparse would take as defaults without a check
    Bad("config-epochs-a-string", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"config.json: 'epochs' must be an integer, not \"ten\"", _config({"epochs": "ten"})),
    Bad("config-hidden-a-number", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"'hidden' must be a list of integers, not 5", _config({"hidden": 5})),
    Bad("config-lr-null", "fit", (*FIT, "--config", "{tmp}/config.json"), 2, r"'lr' must be a number, not null",
        _config({"lr": None})),
    Bad("config-unknown-model", "fit", (*FIT[2:], "--config", "{tmp}/config.json"), 2,
        r"'model' must be one of ann, cnn, not \"rnn\"", _config({"model": "rnn"})),
    Bad("config-seed-true", "fit", (*FIT, "--config", "{tmp}/config.json"), 2, r"'seed' must be an integer",
        _config({"seed": True})),
    Bad("config-a-list", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"config.json holds \[1, 2\], not a JSON object of settings", _config([1, 2])),
    Bad("config-not-json", "fit", (*FIT, "--config", "{tmp}/config.json"), 2, r"config.json is not JSON",
        _config("epochs: 3")),
    Bad("config-missing", "fit", (*FIT, "--config", "{tmp}/none.json"), 2,
        r"cannot read the run configuration .*none.json \(No such file or directory\)"),
    Bad("config-a-folder", "fit", (*FIT, "--config", "{tmp}/c"), 2, r"run configuration .*c is a folder",
        _folder("c")),
    Bad("config-unknown-key", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"config.json has unknown settings \('epoch'\); remove them", _config({"epoch": 3})),
    Bad("config-value-out-of-range", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"--config \S*config\.json sets it: --translate must be at most 27", _config({"translate": 99})),
    Bad("config-lr-nan", "fit", (*FIT, "--config", "{tmp}/config.json"), 2,
        r"--config \S*config\.json sets it: --lr must be a finite number", _config('{"lr": NaN}')),
    # get_data.py
    Bad("get-data-dir-is-a-file", "get_data", GET, 2, r"/d is a file, not a folder, so the data cannot go in .*; pass another --data-dir",
        _file("d")),
    Bad("get-data-dir-under-a-file", "get_data", ("--data-dir", "{tmp}/f/d"), 2, r"/f is a file, not a folder, so the data cannot go in",
        _file("f")),
    Bad("get-data-raw-is-a-file", "get_data", GET, 2, r"FashionMNIST is a file, not a folder, so the data",
        _file("d/FashionMNIST")),
    Bad("get-data-folder-in-place-of-a-file", "get_data", GET, 2,
        r"raw/train-images-idx3-ubyte is a folder, not a file, where that IDX file should be; move it away and run again",
        _folder("d/FashionMNIST/raw/train-images-idx3-ubyte")),
    Bad("get-data-truncated-gz", "get_data", GET, 2, r"train-images-idx3-ubyte.gz cannot be decompressed.*truncated",
        _gz("train-images-idx3-ubyte", cut=5000)),
    Bad("get-data-gz-not-gzip", "get_data", GET, 2, r"train-images-idx3-ubyte.gz cannot be decompressed",
        _file("d/train-images-idx3-ubyte.gz", b"plain text")),
    Bad("get-data-gz-of-other-data", "get_data", GET, 2, r"idx3-ubyte.gz is not the Fashion-MNIST file",
        _gz("train-images-idx3-ubyte", b"another data set")),
    Bad("get-data-damaged-raw-file", "get_data", GET, 2, r"raw/train-images-idx3-ubyte is not the Fashion-MNIST",
        _file("d/FashionMNIST/raw/train-images-idx3-ubyte")),
    Bad("get-data-full-disk", "get_data", GET, 2,
        r"the disk is full: .*raw/train-images-idx3-ubyte cannot be written.*free some space", _full_raw,
        teardown=unmount("d/FashionMNIST/raw")),
    # export.py: --out
    Bad("export-ckpt-is-a-fifo", "export", ("--ckpt", "{tmp}/f.ckpt", "--out", "{tmp}/m.onnx"), 2,
        r"f\.ckpt is not a regular file", lambda t: os.mkfifo(t / "f.ckpt")),
    Bad("fit-config-is-a-fifo", "fit", ("--config", "{tmp}/c.json"), 2, r"c\.json is not a regular file",
        lambda t: os.mkfifo(t / "c.json")),
    Bad("fit-config-is-a-device", "fit", ("--config", "/dev/zero"), 2, r"/dev/zero is not a regular file"),
    Bad("fit-config-nested-too-deep", "fit", ("--config", "{tmp}/c.json"), 2, r"c\.json is not JSON",
        _file("c.json", b"[" * 100_000 + b"]" * 100_000)),
    Bad("fit-config-too-big", "fit", ("--config", "{tmp}/c.json"), 2, r"c\.json is over 1,000,000 bytes",
        _file("c.json", b" " * 2_000_000 + b"{}")),
    Bad("export-out-is-the-ckpt", "export", ("--ckpt", "{ckpt}", "--out", "{ckpt}"), 2,
        r"--out .*\.ckpt is the --ckpt checkpoint; .*choose another --out"),
    Bad("export-out-links-to-the-ckpt", "export", (*EXPORT[:2], "--out", "{tmp}/m.onnx"), 2,
        r"--out .*m.onnx is the --ckpt checkpoint", _link("m.onnx")),
    Bad("export-out-hard-links-the-ckpt", "export", (*EXPORT[:2], "--out", "{tmp}/m.onnx"), 2,
        r"--out .*m.onnx is the --ckpt checkpoint", _link("m.onnx", hard=True)),
    Bad("export-out-is-a-data-file", "export", (*EXPORT[:3], "{data}/FashionMNIST/raw/t10k-images-idx3-ubyte",
        *EXPORT[4:]), 2, r"--out .*t10k-images-idx3-ubyte is a Fashion-MNIST file; .*choose another --out"),
    Bad("export-out-is-a-folder", "export", EXPORT, 2, r"--out .*m.onnx is a folder; name the file",
        _folder("m.onnx")),
    Bad("export-out-under-a-file", "export", (*EXPORT[:3], "{tmp}/f/m.onnx"), 2,
        r"f/m.onnx cannot be written: .*/f is a file, not a folder", _file("f")),
    Bad("export-full-disk", "export", (*EXPORT[:3], "{tmp}/full/m.onnx", *EXPORT[4:]), 2,
        r"full/m.onnx: the disk is full; free some space or pick another --out", full_disk("full", "16k"),
        teardown=unmount("full")),
    # export.py: checkpoints that pass a first look
    Bad("export-ckpt-missing", "export", ("--ckpt", "{tmp}/none.ckpt", *EXPORT[2:]), 2, r"none.ckpt does not exist"),
    Bad("export-ckpt-a-folder", "export", ("--ckpt", "{tmp}/c.ckpt", *EXPORT[2:]), 2,
        r"c.ckpt is a folder, not a checkpoint", _folder("c.ckpt")),
    Bad("export-ckpt-empty", "export", ("--ckpt", "{tmp}/e.ckpt", *EXPORT[2:]), 2,
        r"e.ckpt cannot be read as a checkpoint", _file("e.ckpt", b"")),
    Bad("export-ckpt-truncated", "export", ("--ckpt", "{tmp}/t.ckpt", *EXPORT[2:]), 2,
        r"t.ckpt cannot be read as a checkpoint", _truncated("best-*.ckpt", "t.ckpt")),
    Bad("export-ckpt-another-pickle", "export", ("--ckpt", "{tmp}/p.ckpt", *EXPORT[2:]), 2,
        r"p.ckpt cannot be read as a checkpoint \(UnpicklingError\)", _file("p.ckpt", pickle.dumps(date.today()))),
    Bad("export-ckpt-a-list", "export", ("--ckpt", "{tmp}/l.ckpt", *EXPORT[2:]), 2,
        r"l.ckpt is not a pixelsense checkpoint", _ckpt("l.ckpt", lambda state: [1, 2])),
    Bad("export-ckpt-no-weights", "export", ("--ckpt", "{tmp}/w.ckpt", *EXPORT[2:]), 2,
        r"w.ckpt holds no weights \(no state_dict\)",
        _ckpt("w.ckpt", lambda state: {k: v for k, v in state.items() if k != "state_dict"})),
    Bad("export-ckpt-weights-of-other-shapes", "export", ("--ckpt", "{tmp}/s.ckpt", *EXPORT[2:]), 2,
        r"s.ckpt does not load as a pixelsense model \(size mismatch", _ckpt("s.ckpt", _hparams(hidden=(32,)))),
    Bad("export-ckpt-hidden-a-string", "export", ("--ckpt", "{tmp}/h.ckpt", *EXPORT[2:]), 2,
        r"h.ckpt has hyperparameters no network can be built from \(hidden must be a list of integers",
        _ckpt("h.ckpt", _hparams(hidden="16"))),
    Bad("export-ckpt-too-wide-to-build", "export", ("--ckpt", "{tmp}/b.ckpt", *EXPORT[2:]), 2,
        r"b.ckpt has hyperparameters .*hidden make [\d,]+ parameters", _ckpt("b.ckpt", _hparams(hidden=(10**9,)))),
    Bad("export-ckpt-dropout-2", "export", ("--ckpt", "{tmp}/d.ckpt", *EXPORT[2:]), 2,
        r"d.ckpt has hyperparameters .*dropout must be in \[0, 1\)", _ckpt("d.ckpt", _hparams(dropout=2.0))),
    # evaluate.py
    Bad("evaluate-ckpt-empty", "evaluate", ("--ckpt", "{tmp}/e.ckpt", *EVALUATE), 2,
        r"e.ckpt cannot be read as a checkpoint", _file("e.ckpt", b"")),
    Bad("evaluate-ckpt-weights-of-other-shapes", "evaluate", ("--ckpt", "{tmp}/s.ckpt", *EVALUATE), 2,
        r"s.ckpt does not load as a pixelsense model", _ckpt("s.ckpt", _hparams(hidden=(8,)))),
    Bad("evaluate-ckpt-unknown-schedule", "evaluate", ("--ckpt", "{tmp}/u.ckpt", *EVALUATE), 2,
        r"u.ckpt has hyperparameters .*schedule must be one of", _ckpt("u.ckpt", _hparams(schedule="step"))),
    Bad("evaluate-output-dir-is-a-file", "evaluate", ("--ckpt", "{ckpt}", *EVALUATE), 2,
        r"--output-dir .*/eval is a file, not a folder; pick another --output-dir", _file("eval")),
    Bad("evaluate-output-dir-under-a-file", "evaluate", ("--ckpt", "{ckpt}", "--output-dir", "{tmp}/f/eval",
        *EVALUATE[2:]), 2, r"--output-dir .*/f/eval cannot be made: .*/f is a file, not a folder; pick another --output-dir", _file("f")),
    Bad("evaluate-onnx-a-folder", "evaluate", ("--onnx", "{tmp}/m.onnx", *EVALUATE), 2, r"m.onnx",
        _folder("m.onnx")),
    Bad("evaluate-onnx-truncated", "evaluate", ("--onnx", "{tmp}/t.onnx", *EVALUATE), 2,
        r"t.onnx cannot be loaded as an ONNX model", _truncated("*.onnx", "t.onnx")),
    # photos.py
    Bad("photos-count-0", "photos", ("--count", "0", *PHOTOS), 2, r"--count: must be at least 1"),
    Bad("photos-count-beyond-the-test-set", "photos", ("--count", "20000", *PHOTOS), 2,
        r"--count: must be at most 10,000, the test set's size"),
    Bad("photos-model-missing", "photos", ("--models", "{tmp}/none.onnx", *PHOTOS), 2,
        r"none.onnx does not exist; pass a .onnx file"),
    Bad("photos-model-truncated", "photos", ("--models", "{model}", "{tmp}/t.onnx", *PHOTOS), 2,
        r"t.onnx cannot be loaded as an ONNX model", _truncated("*.onnx", "t.onnx")),
    Bad("photos-no-data", "photos", ("--models", "{model}", "--data-dir", "{tmp}/nothing", "--no-download"), 2,
        r"is missing and downloading is off"),
    Bad("photos-out-not-empty", "photos", ("--models", "{model}", "--out", "{tmp}/mine", *PHOTOS), 2,
        r"--out .*mine exists and is not an empty folder", _file("mine/00000.png", b"a photo of mine")),
    Bad("photos-json-to-a-stream-keeps-what-it-appends-to", "photos", ("--models", "{model}", "--count", "3",
        "--json", f"/dev/fd/{STREAM_FD}", *PHOTOS), 0, "", appending("log.txt"), close_stream, changes=("log.txt",),
        then=appended("log.txt")),
    Bad("photos-two-models-of-one-name", "photos", ("--models", "{model}", "{tmp}/b/model.onnx", "--count", "3",
        *PHOTOS), 2, r"share the name model\.onnx, which names a model's column", _copy_model("b/model.onnx")),
    Bad("photos-json-is-a-folder", "photos", ("--models", "{model}", "--count", "3", "--json", "{tmp}/j",
        *PHOTOS), 2, r"j", _folder("j")),
    Bad("bench-predict-zero-photos", "bench", ("predict", "--photos", "0"), 2, r"--photos: must be at least 1"),
    Bad("bench-predict-more-workers-than-cores", "bench", ("predict", "--workers", "100000"), 2,
        r"--workers: must be at most \d+"),
    # bench.py
    Bad("bench-train-zero-rounds", "bench", ("train", "--rounds", "0"), 2, r"--rounds: must be at least 1"),
    Bad("bench-data-zero-rounds", "bench", ("data", "--rounds", "0"), 2, r"--rounds: must be at least 1"),
    Bad("bench-inference-zero-rounds", "bench", ("inference", "--rounds", "0"), 2, r"--rounds: must be at least 1"),
    Bad("bench-inference-endless-rounds", "bench", ("inference", "--rounds", "100000000"), 2,
        r"--rounds: must be at most 1,000"),
    Bad("bench-train-endless-rounds", "bench", ("train", "--rounds", "100000000"), 2,
        r"--rounds: must be at most 1,000"),
    Bad("bench-inference-more-threads-than-cores", "bench", ("inference", "--threads", "100000"), 2,
        r"--threads: must be at most \d+, the cores of this machine"),
    Bad("bench-inference-ckpt-a-folder", "bench", ("inference", "--ckpt", "{tmp}/c.ckpt"), 2,
        r"c.ckpt is a folder, not a checkpoint", _folder("c.ckpt")),
    Bad("bench-data-dir-is-a-file", "bench", ("data", "--data-dir", "{tmp}/d", "--no-download"), 2,
        r"/d is a file, not a folder, so the data cannot go in", _file("d")),
    Bad("bench-train-unknown-model", "bench", ("train", "--models", "mlp"), 2, r"invalid choice: 'mlp'"),
    # export.py and evaluate.py: outputs that would replace what is there
    Bad("export-out-is-a-fifo", "export", EXPORT, 2, r"--out .*m.onnx is not a regular file .*name a .onnx file",
        lambda t: os.mkfifo(t / "m.onnx")),
    Bad("export-out-is-a-runs-last-ckpt", "export", (*EXPORT[:3], "{tmp}/last.ckpt", *EXPORT[4:]), 2,
        r"--out .*last.ckpt does not end in .onnx; name a .onnx file to write, e.g. .*last.onnx",
        _copy("best-*.ckpt", "last.ckpt")),
    Bad("evaluate-onnx-is-an-output", "evaluate", ("--onnx", "{tmp}/eval/report.json", *EVALUATE), 2,
        r"--output-dir .*eval/report.json is the --onnx model; .*choose another --output-dir",
        _copy("*.onnx", "eval/report.json")),
    Bad("evaluate-ckpt-is-an-output", "evaluate", ("--ckpt", "{tmp}/eval/report.md", *EVALUATE), 2,
        r"--output-dir .*eval/report.md is the --ckpt checkpoint; .*choose another --output-dir",
        _copy("best-*.ckpt", "eval/report.md")),
    Bad("export-ckpt-diverged-to-nan", "export", ("--ckpt", "{tmp}/n.ckpt", *EXPORT[2:]), 2,
        r"the checkpoint gives NaN probabilities, so no ONNX file was written: .*train again with a lower --lr",
        _ckpt("n.ckpt", _nan_weights)),
    Bad("export-no-data", "export", (*EXPORT[:4], "--data-dir", "{tmp}/nothing"), 2,
        r"is missing and downloading is off; pass the --data-dir that holds Fashion-MNIST, or .*apt-get install "
        r"dataset-fashion-mnist.*, or run `python scripts/get_data.py` with the same --data-dir"),
]  # fmt: skip
