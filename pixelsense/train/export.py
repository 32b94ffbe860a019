"""Export a pixelsense checkpoint to one self-contained ONNX file and prove it behaves like the checkpoint.

The graph takes raw uint8 pixels ``images [N, 1, 28, 28]`` (white clothes on black, as Fashion-MNIST) and
returns ``logits`` and ``probabilities``: normalisation is inside, so consumers never need MEAN and STD.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from pixelsense import __version__
from pixelsense.constants import CLASSES, IMAGE_SIZE, MEAN, STD
from pixelsense.errors import PixelsenseError
from pixelsense.files import atomic_path
from pixelsense.train.data import normalize

OPSET = 18
PARITY_BATCHES = (1, 7, 256)  # batch sizes checked against the torch model
MAX_PROB_DIFF = 1e-5  # largest |Δprobability| an export may show against its checkpoint


class ExportError(PixelsenseError):
    """The checkpoint cannot be exported, or the export does not match it; the message says which."""


class Deployable(nn.Module):
    """The network with its preprocessing: uint8 pixels in, (logits, probabilities) out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.net(normalize(images))
        return logits, logits.softmax(dim=-1)


def _metadata(hparams, test_accuracy: float | None) -> dict[str, str]:
    permutation = hparams.get("permute_pixels")
    return {
        "classes": json.dumps(list(CLASSES)),
        "architecture": hparams["arch"],
        # A permuted run's order is a layer inside the graph: the input stays an ordinary image.
        "pixel_permutation_seed": "none" if permutation is None else str(permutation),
        "normalization": json.dumps({"scale": 1 / 255, "mean": MEAN, "std": STD}),
        "input": "uint8 [N, 1, 28, 28], white clothes on black",
        "test_accuracy": "unknown" if test_accuracy is None else f"{test_accuracy:.4f}",
        "pixelsense_version": __version__,
    }


def check_destination(out: str | os.PathLike, ckpt: str | os.PathLike, data_dir: str | os.PathLike) -> None:
    """Refuse an ``--out`` that cannot be written, that is one of the files the export reads (the
    checkpoint, the test set) by any path or link, that is not a plain file (a device, a FIFO) or that is
    not named .onnx, before any work: ExportError, or OutputIsInput."""
    from pixelsense.files import check_not_input, output_file
    from pixelsense.paths import not_regular
    from pixelsense.train.sources import SHA256, raw_dir

    out = Path(out)
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder; name the file to write, e.g. {out / 'model.onnx'}.")
    output_file("--out", out)
    check_not_input(out, [ckpt], "--out", "the --ckpt checkpoint")
    check_not_input(out, [raw_dir(data_dir) / name for name in SHA256], "--out", "a Fashion-MNIST file")
    problem = not_regular(out)
    if problem and out.exists():  # a device or FIFO would be replaced by a plain file: never what was meant
        raise ExportError(f"--out {out} {problem}; name a .onnx file to write.")
    if out.suffix.lower() != ".onnx":  # e.g. a run's last.ckpt: a name that says ONNX guards other files
        raise ExportError(f"--out {out} does not end in .onnx; name a .onnx file to write, e.g. "
                          f"{out.with_name(out.stem + '.onnx')}.")  # fmt: skip


def export(
    model, out: str | os.PathLike, images: Tensor, test_accuracy: float | None = None
) -> dict[int, float]:
    """Export ``model`` (a Classifier) to ``out`` and verify it; the file appears only if it passes.

    Checks: ``onnx.checker`` (full), then onnxruntime against torch on ``images`` (real test images, uint8
    ``[N, 28, 28]``, N ≥ 256). Returns the max |Δprobability| per batch size.
    """
    model = model.to("cpu").eval()
    with atomic_path(out) as tmp:
        _write_onnx(model, tmp, test_accuracy)
        return verify_parity(model, tmp, images)


def _write_onnx(model, path: Path, test_accuracy: float | None) -> None:
    import onnx

    wrapper = Deployable(model.net).eval()
    sample = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)  # batch ≥ 2: not frozen at 1
    program = torch.onnx.export(
        wrapper, (sample,), dynamo=True, opset_version=OPSET, input_names=["images"],
        output_names=["logits", "probabilities"], dynamic_shapes={"images": {0: torch.export.Dim("batch")}},
        external_data=False, verbose=False,
    )  # fmt: skip
    proto = program.model_proto
    for key, value in _metadata(model.hparams, test_accuracy).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save_model(proto, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def verify_parity(model, onnx_path: str | os.PathLike, images: Tensor) -> dict[int, float]:
    """Compare onnxruntime with the torch model on ``images`` (uint8 ``[N, 28, 28]``) at each batch size in
    PARITY_BATCHES; return the max |Δprobability| per batch size, or raise ExportError (NaN fails)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wrapper = Deployable(model.net).eval()
    diffs = {}
    for size in PARITY_BATCHES:
        batch = images[:size].reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        with torch.no_grad():
            expected = wrapper(batch)[1].numpy()
        if not np.isfinite(expected).all():  # no export can be right about such a model
            raise ExportError(
                "the checkpoint gives NaN probabilities, so no ONNX file was written: its weights are not "
                "usable (did training diverge? train again with a lower --lr)."
            )
        got = session.run(["probabilities"], {"images": batch.numpy()})[0]
        diffs[size] = float(np.abs(expected - got).max())
        same = bool((expected.argmax(1) == got.argmax(1)).all())
        # `not <=`: an export that gives NaN where the checkpoint does not fails too (NaN > limit is False)
        if len(batch) != size or not diffs[size] <= MAX_PROB_DIFF or not same:
            raise ExportError(
                f"{onnx_path} does not match its checkpoint at batch {size} ({len(batch)} images): max "
                f"|Δprobability| {diffs[size]:.2e} (limit {MAX_PROB_DIFF:.0e}), same argmax: {same}."
            )
    return diffs


def ort_session(model, images: Tensor, threads: int):
    """An onnxruntime CPU session on the verified export of ``model`` (a Classifier), with ``threads``
    intra-op threads: the same engine that predict.py uses, for measuring it."""
    import tempfile

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        export(model, path, images)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def describe(diffs: dict[int, float]) -> str:
    shown = ", ".join(f"batch {size}: {diff:.1e}" for size, diff in diffs.items())
    return f"verified: onnxruntime vs torch, max |Δprobability| {shown}"
