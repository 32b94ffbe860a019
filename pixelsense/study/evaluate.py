"""Evaluate a checkpoint (torch) or an ONNX export (onnxruntime) on the official test set and write its
classification report and figures: ``python scripts/evaluate.py --ckpt CKPT`` (or ``--onnx MODEL.onnx``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pixelsense.constants import CLASSES, IMAGE_SIZE
from pixelsense.files import atomic_files
from pixelsense.train.report import ConfidentMistakes, as_markdown, classification_report

BATCH = 1000  # test images per forward pass
FILES = ("report.json", "report.md", "confusion_matrix.png", "misclassified.png")
Predictor = Callable[[Tensor], Tensor]  # uint8 images [N, 28, 28] → class probabilities [N, 10]


def checkpoint_predictor(ckpt: str | os.PathLike) -> Predictor:
    """A pixelsense checkpoint, loaded (or refused) now, run with torch."""
    from pixelsense.train.checkpoints import load_checkpoint

    return torch_predictor(load_checkpoint(ckpt))


def torch_predictor(model) -> Predictor:
    """A loaded Classifier, with its preprocessing, run with torch in batches."""
    from pixelsense.train.export import Deployable

    deployable = Deployable(model.net).eval()

    def predict(images: Tensor) -> Tensor:
        with torch.inference_mode():
            batches = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).split(BATCH)
            return torch.cat([deployable(batch)[1] for batch in batches]).float()

    return predict


def onnx_predictor(path: str | os.PathLike, threads: int | None = None) -> Predictor:
    """A pixelsense ONNX export, opened (or refused) now, run with onnxruntime."""
    from pixelsense.infer.engine import open_model

    session, _ = open_model(str(path), "cpu", threads)
    return session_predictor(session, str(path))


def session_predictor(session, name: str) -> Predictor:
    """An onnxruntime session on a pixelsense export, run in batches (ModelError, naming ``name``, where
    onnxruntime fails on one)."""
    from pixelsense.infer.engine import ModelError, probabilities, unpredicted

    def predict(images: Tensor) -> Tensor:
        pixels = images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).numpy()
        starts = range(0, len(pixels), BATCH)
        found = np.concatenate(
            [probabilities(session, pixels[i : i + BATCH], name, f"image {i}") for i in starts]
        )
        if (bad := np.flatnonzero(unpredicted(found))).size:  # argmax would count it as class 0, quietly
            raise ModelError(f"{name} gives image {bad[0]} (and {bad.size - 1} more) no probabilities "
                             "(NaN or infinity), so its scores would be wrong; export it again.")  # fmt: skip
        return torch.from_numpy(found)

    return predict


def default_output_dir(model_path: str | os.PathLike) -> Path:
    """``<folder of the model>/<model file name without suffix>-evaluation``."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}-evaluation")


def write_evaluation(probabilities: Tensor, labels: Tensor, images: Tensor, out_dir: str | os.PathLike,
                     name: str) -> dict:  # fmt: skip
    """Write FILES for these predictions into ``out_dir`` and return the report."""
    from pixelsense.train.plots import confusion_matrix_figure, misclassified_figure, save_png

    report = {"model": name, "images": len(labels), **classification_report(probabilities, labels)}
    found = ConfidentMistakes()
    found.update(images, labels, probabilities, torch.arange(len(labels)))
    mistakes = found.compute()
    title = f"{name}: the {len(mistakes.true)} most confident mistakes (true → predicted, confidence)"
    report["most_confident_mistakes"] = [  # index: the image's position in the test set
        {"index": i, "true": CLASSES[t], "predicted": CLASSES[p], "confidence": round(c, 4)}
        for _, t, p, c, i in zip(*(part.tolist() for part in mistakes), strict=True)
    ]
    markdown = as_markdown(report, title=f"{name} on the Fashion-MNIST test set ({len(labels):,} images)")
    markdown += (
        "\n![confusion matrix](confusion_matrix.png)\n\n![most confident mistakes](misclassified.png)\n"
    )
    with atomic_files(out_dir) as tmp:  # all four files, or none
        save_png(confusion_matrix_figure(report["confusion_matrix"], title=f"{name}: official test set"),
                 tmp / "confusion_matrix.png")  # fmt: skip
        save_png(misclassified_figure(*mistakes[:4], title=title), tmp / "misclassified.png")
        (tmp / "report.md").write_text(markdown)
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
    return report
