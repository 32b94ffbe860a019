"""Rows of tests/test_bad_inputs.py: models, in every command that runs one. Each command opens a model as
predict.py does (``engine.open_model``) and runs it as predict.py does (``engine.probabilities``), so a
model that is missing, foreign, or fails after its trial batch is one line naming it; a picture the model
gives NaN fails alone, as an image that cannot be read does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bad_inference import onnx_model, write
from badinput import Bad

EVALUATE = ("--output-dir", "{tmp}/eval", "--data-dir", "{data}", "--no-download")
PHOTOS = ("--count", "3", "--data-dir", "{data}", "--no-download")
BENCH = (
    "predict",
    "--photos",
    "4",
    "--arrays",
    "8",
    "--rounds",
    "1",
    "--data-dir",
    "{data}",
    "--no-download",
)
FIXED = "{tmp}/fixed.onnx"  # reshapes to [3, 784]: passes the trial batch of 3, fails on any other batch
BLACK = np.zeros((1, 28, 28), np.uint8)


def _fixed(tmp: Path) -> None:
    onnx_model(tmp / "fixed.onnx", batch=3)


def _nan(tmp: Path) -> None:
    onnx_model(tmp / "nan.onnx", nan_on_black=True)


def _rows(count: int):
    """A ``then``: out.csv holds ``count`` rows after its header."""

    def then(tmp: Path, err: str) -> None:
        assert len((tmp / "out.csv").read_text().splitlines()) == 1 + count, err

    return then


def _pictures(tmp: Path) -> None:
    gray = np.full((3, 28, 28), 120, np.uint8)
    write("four.npy", np.concatenate([gray, BLACK]))(tmp)
    _fixed(tmp)
    _nan(tmp)


ROWS = [
    # predict.py: rows already written are not followed by exit 2; the batch or picture fails, the rest stand.
    Bad(
        "predict-model-failing-on-a-later-batch",
        "predict",
        ("--model", FIXED, "--batch-size", "3", "{tmp}/four.npy", "--output", "{tmp}/out.csv"),
        1,
        r"fixed\.onnx failed on the image from .*four\.npy:3 \(.*Reshape.*\); left out\.",
        _pictures,
        changes=("out.csv",),
        then=_rows(3),
    ),
    Bad(
        "predict-model-giving-nan",
        "predict",
        ("--model", "{tmp}/nan.onnx", "{tmp}/four.npy", "--output", "{tmp}/out.csv"),
        1,
        r"four\.npy:3: .*nan\.onnx gives it no probabilities \(NaN or infinity\)",
        _pictures,
        changes=("out.csv",),
        then=_rows(3),
    ),
    # evaluate.py --onnx: the model opened and run as predict.py runs it.
    Bad(
        "evaluate-onnx-failing-on-a-larger-batch",
        "evaluate",
        ("--onnx", FIXED, *EVALUATE),
        2,
        r"fixed\.onnx failed on the 300 images from image 0 \(",
        _fixed,
    ),
    Bad(
        "evaluate-onnx-of-garbage",
        "evaluate",
        ("--onnx", "{tmp}/g.onnx", *EVALUATE),
        2,
        r"g\.onnx cannot be loaded as an ONNX model",
        write("g.onnx", b"\x08\x07garbage" * 10),
    ),
    # photos.py: predict.py's own reason, not a RuntimeError.
    Bad(
        "photos-model-failing-on-a-larger-batch",
        "photos",
        ("--models", FIXED, "--count", "4", *PHOTOS[2:]),
        2,
        r"predict\.py did not predict every image of .*; the first reason: .*fixed\.onnx failed on the 4 "
        r"images from .*\(.*Reshape.*\); left out\.$",
        _fixed,
    ),
    # bench.py predict: missing, garbage and failing models, each one line.
    Bad(
        "bench-predict-model-missing",
        "bench",
        (*BENCH, "--models", "{tmp}/none.onnx"),
        2,
        r"none\.onnx does not exist; pass a \.onnx file",
    ),
    Bad(
        "bench-predict-model-of-garbage",
        "bench",
        (*BENCH, "--models", "{tmp}/g.onnx"),
        2,
        r"g\.onnx cannot be loaded as an ONNX model",
        write("g.onnx", b"\x08\x07garbage" * 10),
    ),
    Bad(
        "bench-predict-model-failing-on-a-larger-batch",
        "bench",
        (*BENCH, "--models", FIXED),
        2,
        r"fixed\.onnx failed on the 4 images from",
        _fixed,
    ),
]
