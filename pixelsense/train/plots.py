"""Figures for TensorBoard and reports. matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from pixelsense.constants import CLASSES, IMAGE_SIZE
from pixelsense.files import atomic_path

SHARE = "share of true class"  # the colour of a confusion-matrix cell


def _draw_confusion(ax, matrix, classes: Sequence[str], title: str = ""):
    """Each cell: its count and, from 1 % up, its share of the true class (row-normalised), which is also
    its colour on a fixed 0–1 scale."""
    counts = torch.as_tensor(matrix).detach().cpu().double()
    rates = counts / counts.sum(1, keepdim=True).clamp(min=1)
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in ticks:
        for j in ticks:
            if round(float(counts[i, j])) > 0:
                color = "white" if rates[i, j] > 0.5 else "black"
                share = f"\n{rates[i, j]:.0%}" if rates[i, j] >= 0.01 else ""  # the row-normalised value
                ax.text(
                    j, i, f"{counts[i, j]:.0f}{share}", ha="center", va="center", fontsize=6.5, color=color
                )
    return image


def confusion_matrix_figure(matrix, classes: Sequence[str] = CLASSES, title: str = ""):
    """One confusion matrix (rows = true class)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    image = _draw_confusion(ax, matrix, classes, title)
    fig.colorbar(image, ax=ax, fraction=0.046, label=SHARE)
    return fig


def confusion_matrices_figure(matrices: Mapping[str, object], classes: Sequence[str] = CLASSES):
    """Several confusion matrices side by side on one colour scale, titled by their keys."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7 * len(matrices) + 1, 6.5), layout="constrained")
    axes = fig.subplots(1, len(matrices), squeeze=False)[0]
    for ax, (title, matrix) in zip(axes, matrices.items(), strict=True):
        image = _draw_confusion(ax, matrix, classes, title)
    fig.colorbar(image, ax=list(axes), fraction=0.025, label=SHARE)
    return fig


def misclassified_figure(images, true: Sequence[int], predicted: Sequence[int], confidence: Sequence[float],
                         classes: Sequence[str] = CLASSES, title: str = ""):  # fmt: skip
    """A grid of images (uint8 0–255 or float 0–1, ``[K, 28, 28]`` or ``[K, 1, 28, 28]``), each titled
    'true → predicted' and the confidence of the wrong prediction."""
    from matplotlib.figure import Figure

    pixels = torch.as_tensor(images).detach().cpu().float().reshape(len(true), IMAGE_SIZE, IMAGE_SIZE)
    if pixels.numel() and pixels.max() > 1:
        pixels = pixels / 255
    cols = min(5, max(1, len(true)))
    rows = max(1, math.ceil(len(true) / cols))
    fig = Figure(figsize=(2.3 * cols, 2.5 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < len(true):
            ax.imshow(pixels[k].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_title(f"{classes[true[k]]} →\n{classes[predicted[k]]} {confidence[k]:.2f}", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def per_class_bars_figure(scores: Mapping[str, tuple[Sequence[float], Sequence[float] | None]],
                          classes: Sequence[str] = CLASSES, ylabel: str = "F1"):  # fmt: skip
    """Grouped bars, one group per class and one bar per series (name → (means, stds or None))."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(scores)
    low = 1.0
    for k, (name, (means, stds)) in enumerate(scores.items()):
        xs = [i + (k - (len(scores) - 1) / 2) * width for i in range(len(classes))]
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=name)
        low = min(low, *means)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return fig


def save_png(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG that appears whole or not at all."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def log_figure(logger, tag: str, fig, step: int) -> None:
    """Add a figure to a TensorBoard logger; other loggers (or none) are skipped."""
    experiment = getattr(logger, "experiment", None)
    if experiment is not None and hasattr(experiment, "add_figure"):
        experiment.add_figure(tag, fig, step)


def log_confusion_matrix(logger, tag: str, matrix: torch.Tensor, epoch: int) -> None:
    """Add the confusion-matrix figure to a TensorBoard logger (step = epoch)."""
    log_figure(logger, tag, confusion_matrix_figure(matrix, title=f"{tag}, epoch {epoch}"), epoch)
