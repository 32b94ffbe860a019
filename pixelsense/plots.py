"""Figures for TensorBoard and reports. matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pixelsense.constants import CLASSES


def confusion_matrix_figure(matrix: torch.Tensor, classes: Sequence[str] = CLASSES, title: str = ""):
    """Row-normalised confusion matrix (rows = true class) with the raw counts written in each cell."""
    from matplotlib.figure import Figure

    counts = matrix.detach().cpu().double()
    rates = counts / counts.sum(1, keepdim=True).clamp(min=1)
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in ticks:
        for j in ticks:
            if counts[i, j] > 0:
                color = "white" if rates[i, j] > 0.5 else "black"
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7, color=color)
    return fig


def log_confusion_matrix(logger, tag: str, matrix: torch.Tensor, epoch: int) -> None:
    """Add the confusion-matrix figure to a TensorBoard logger (step = epoch); other loggers are skipped."""
    experiment = getattr(logger, "experiment", None)
    if experiment is None or not hasattr(experiment, "add_figure"):
        return
    experiment.add_figure(tag, confusion_matrix_figure(matrix, title=f"{tag}, epoch {epoch}"), epoch)
