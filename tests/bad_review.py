"""Rows of tests/test_bad_inputs.py: what the hostile review of issue 25 found, each kind fixed where it
starts. Outputs that are inputs (photos.py, compare.py), a model right for its trial batch but not for
others, and --labels rows that name a file twice or two files by one name."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from bad_inference import image, onnx_model, write
from badinput import Bad
from conftest import fake_files

DATA = ("--data-dir", "{data}", "--no-download")
PHOTOS = ("--models", "{model}", "--count", "3", *DATA)
RAW = "{data}/FashionMNIST/raw"


def _slice(tmp: Path) -> None:
    onnx_model(tmp / "three.onnx", at_most=3)  # 3 rows for any batch: passes the trial of 3


def _report_is_a_checkpoint(tmp: Path) -> None:
    (tmp / "o/cnn").mkdir(parents=True)
    shutil.copy(next(tmp.glob("best-*.ckpt")), tmp / "o/cnn/report.json")


def _bomb(tmp: Path) -> None:
    """The four .gz files in tmp/d, the test labels one inflating to 1 MB of zeros."""
    for name, content in fake_files().items():
        big = bytes(1 << 20) if name == "t10k-labels-idx1-ubyte" else content
        (tmp / "d").mkdir(exist_ok=True)
        (tmp / "d" / f"{name}.gz").write_bytes(gzip.compress(big))


def _two_of_one_name(tmp: Path) -> None:
    image("a/x.png")(tmp)
    image("b/x.png")(tmp)
    write("l.csv", "x.png,9\n")(tmp)


ROWS = [
    # Data loss: photos.py and compare.py now check their outputs against their inputs, as evaluate.py does.
    Bad(
        "photos-json-is-a-model",
        "photos",
        (*PHOTOS, "--json", "{model}"),
        2,
        r"--json \S*model\.onnx is a --models file; writing it would destroy that",
    ),
    Bad(
        "photos-figure-is-a-model",
        "photos",
        (*PHOTOS, "--figure", "{model}"),
        2,
        r"--figure \S*model\.onnx is a --models file; writing it would destroy that",
    ),
    Bad(
        "photos-json-is-a-fashion-mnist-file",
        "photos",
        (*PHOTOS, "--json", f"{RAW}/t10k-labels-idx1-ubyte"),
        2,
        r"--json \S*t10k-labels-idx1-ubyte is a Fashion-MNIST file",
    ),
    Bad(
        "photos-json-and-figure-one-file",
        "photos",
        (*PHOTOS, "--json", "{tmp}/r", "--figure", "{tmp}/r"),
        2,
        r"--figure \S*/r is the --json file",
    ),
    Bad(
        "compare-report-over-its-checkpoint",
        "compare",
        ("--ann", "{ckpt}", "--cnn", "{tmp}/o/cnn/report.json", "--output-dir", "{tmp}/o", *DATA),
        2,
        r"--output-dir \S*o/cnn/report\.json is a checkpoint",
        _report_is_a_checkpoint,
    ),
    Bad(
        "compare-report-folder-is-a-file",
        "compare",
        ("--ann", "{ckpt}", "--cnn", "{ckpt}", "--output-dir", "{tmp}/o", *DATA),
        2,
        r"--output-dir \S*o/ann is a file, not a folder; pick another --output-dir\.$",
        write("o/ann", "a file of mine"),
    ),
    # A model that gives as many rows as the trial batch, and fewer for any other batch.
    Bad(
        "predict-model-giving-too-few-rows",
        "predict",
        ("--model", "{tmp}/three.onnx", "{tmp}/x.npy"),
        2,
        r"three\.onnx gives probabilities of shape \(3, 10\) for the 5 images from \S*x\.npy:0, not \(5, 10\)",
        lambda t: (_slice(t), write("x.npy", __import__("numpy").zeros((5, 28, 28), "uint8"))(t)),
    ),
    Bad(
        "evaluate-onnx-giving-too-few-rows",
        "evaluate",
        ("--onnx", "{tmp}/three.onnx", "--output-dir", "{tmp}/eval", *DATA),
        2,
        r"three\.onnx gives probabilities of shape \(3, 10\) for the 300 images",
        _slice,
    ),
    Bad(
        "photos-model-giving-too-few-rows",
        "photos",
        ("--models", "{tmp}/three.onnx", "--count", "4", *DATA),
        2,
        r"the first reason: .*three\.onnx gives probabilities of shape \(3, 10\) for the 4 images",
        _slice,
    ),
    # --labels: a file labelled twice, two files of one name.
    Bad(
        "predict-labels-csv-labelling-a-file-twice",
        "predict",
        ("--model", "{model}", "{images}/good0.png", "--labels", "{tmp}/l.csv"),
        2,
        r"row 2 labels good0\.png 5, but an earlier row labels it 3",
        write("l.csv", "good0.png,3\ngood0.png,5\n"),
    ),
    Bad(
        "predict-labels-csv-one-name-for-two-files",
        "predict",
        ("--model", "{model}", "{tmp}/a", "{tmp}/b", "--labels", "{tmp}/l.csv"),
        1,
        r"accuracy not computed: no predicted source matched",
        _two_of_one_name,
    ),
    # A .gz that inflates past the file it stands for: refused there, not when the disk is full.
    Bad(
        "get-data-gz-inflating-past-its-file",
        "get_data",
        ("--data-dir", "{tmp}/d", "--no-download"),
        2,
        r"t10k-labels-idx1-ubyte\.gz inflates past 10,008 bytes, the size of t10k-labels-idx1-ubyte: it is not "
        r"Fashion-MNIST",
        _bomb,
    ),
    # A side file that is a FIFO: read as no card, never waited on.
    Bad(
        "export-beside-a-fifo-named-metrics-json",
        "export",
        ("--ckpt", "{ckpt}", "--out", "{tmp}/m.onnx", *DATA[:2]),
        0,
        "",
        lambda t: os.mkfifo(t / "metrics.json"),
        changes=("m.onnx", "m.json"),
    ),
]
