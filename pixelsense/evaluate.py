"""Evaluate a checkpoint (torch) or an ONNX export (onnxruntime) on the official test set and write its
classification report and figures: ``python scripts/evaluate.py --ckpt CKPT`` (or ``--onnx MODEL.onnx``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pixelsense.constants import CLASSES, IMAGE_SIZE
from pixelsense.files import write_text_atomic
from pixelsense.report import ConfidentMistakes, as_markdown, classification_report

BATCH = 1000  # test images per forward pass
MISTAKES_SHOWN = 25  # cells in misclassified.png
FILES = ("report.json", "report.md", "confusion_matrix.png", "misclassified.png")


def official_test_set(data_dir: str | os.PathLike, download: bool = False) -> tuple[Tensor, Tensor]:
    """The verified official test set: uint8 images ``[10000, 28, 28]`` and their labels."""
    from torchvision.datasets import FashionMNIST

    from pixelsense.sources import ensure_fashion_mnist

    ensure_fashion_mnist(data_dir, download=download)
    test = FashionMNIST(str(data_dir), train=False)
    return test.data, test.targets


def checkpoint_probabilities(ckpt: str | os.PathLike, images: Tensor) -> Tensor:
    """Class probabilities ``[N, 10]`` of a pixelsense checkpoint for uint8 ``images``, with torch."""
    from pixelsense.export import Deployable, load_checkpoint

    deployable = Deployable(load_checkpoint(ckpt).net).eval()
    with torch.inference_mode():
        parts = [deployable(batch.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE))[1] for batch in images.split(BATCH)]
    return torch.cat(parts).float()


def onnx_probabilities(path: str | os.PathLike, images: Tensor, threads: int | None = None) -> Tensor:
    """Class probabilities ``[N, 10]`` of a pixelsense ONNX export for uint8 ``images``, with onnxruntime."""
    from pixelsense.predict import open_model

    session, _ = open_model(str(path), "cpu", threads)
    pixels = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).numpy()
    parts = [
        session.run(["probabilities"], {"images": pixels[i : i + BATCH]})[0]
        for i in range(0, len(pixels), BATCH)
    ]
    return torch.from_numpy(np.concatenate(parts))


def default_output_dir(model_path: str | os.PathLike) -> Path:
    """``<folder of the model>/<model file name without suffix>-evaluation``."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}-evaluation")


def write_evaluation(probabilities: Tensor, labels: Tensor, images: Tensor, out_dir: str | os.PathLike,
                     name: str) -> dict:  # fmt: skip
    """Write FILES for these predictions into ``out_dir`` and return the report."""
    from pixelsense.plots import confusion_matrix_figure, misclassified_figure, save_png

    out_dir = Path(out_dir)
    report = {"model": name, "images": len(labels), **classification_report(probabilities, labels)}
    mistakes = ConfidentMistakes(MISTAKES_SHOWN)
    mistakes.update(images, labels, probabilities)
    save_png(confusion_matrix_figure(report["confusion_matrix"], title=f"{name}: official test set"),
             out_dir / "confusion_matrix.png")  # fmt: skip
    title = f"{name}: the {len(mistakes.true)} most confident mistakes (true → predicted, confidence)"
    save_png(misclassified_figure(*mistakes.state(), title=title), out_dir / "misclassified.png")
    report["most_confident_mistakes"] = [
        {"true": CLASSES[t], "predicted": CLASSES[p], "confidence": round(c, 4)}
        for t, p, c in zip(mistakes.true.tolist(), mistakes.predicted.tolist(), mistakes.confidence.tolist(),
                           strict=True)
    ]  # fmt: skip
    markdown = as_markdown(report, title=f"{name} on the Fashion-MNIST test set ({len(labels):,} images)")
    markdown += (
        "\n![confusion matrix](confusion_matrix.png)\n\n![most confident mistakes](misclassified.png)\n"
    )
    write_text_atomic(out_dir / "report.md", markdown)
    write_text_atomic(out_dir / "report.json", json.dumps(report, indent=2))
    return report
