"""Classification reports: per-class precision, recall, F1 and support, then accuracy, macro and weighted
averages. The per-class scores come from torchmetrics (``average=None``), the supports from the confusion
matrix's row sums; the report is a plain dict, written as aligned text, JSON and Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)
from torchmetrics.utilities import dim_zero_cat

from pixelsense.constants import CLASSES, IMAGE_SIZE

SCORES = ("precision", "recall", "f1")
MISTAKES_SHOWN = 25  # the most confident mistakes drawn (misclassified.png, TensorBoard)


def assemble(per_class: dict[str, Tensor], matrix: Tensor, classes: Sequence[str] = CLASSES) -> dict:
    """The report from per-class scores (``average=None`` tensors keyed by SCORES) and the confusion matrix
    (rows = true class)."""
    matrix = matrix.detach().cpu().long()
    support = matrix.sum(1)
    total = int(support.sum())
    scores = {k: per_class[k].detach().cpu().double() for k in SCORES}
    weights = support.double() / max(total, 1)
    # As torchmetrics' macro average: a class that is neither a label nor a prediction does not count.
    seen = (support + matrix.sum(0)) > 0
    return {
        "per_class": {
            name: {**{k: scores[k][i].item() for k in SCORES}, "support": int(support[i])}
            for i, name in enumerate(classes)
        },
        "accuracy": int(matrix.trace()) / max(total, 1),
        "macro": {**{k: scores[k][seen].mean().item() for k in SCORES}, "support": total},
        "weighted": {**{k: (scores[k] * weights).sum().item() for k in SCORES}, "support": total},
        "confusion_matrix": matrix.tolist(),
    }


def classification_report(probabilities: Tensor, labels: Tensor, classes: Sequence[str] = CLASSES) -> dict:
    """The report of predictions (``[N, C]`` scores, the argmax is the prediction) against ``labels``."""
    preds = probabilities.argmax(1)
    n = len(classes)
    per_class = {
        "precision": multiclass_precision(preds, labels, n, average=None),
        "recall": multiclass_recall(preds, labels, n, average=None),
        "f1": multiclass_f1_score(preds, labels, n, average=None),
    }
    return assemble(per_class, multiclass_confusion_matrix(preds, labels, n), classes)


def confused_pairs(matrix, classes: Sequence[str] = CLASSES, top: int = 5) -> list[tuple[str, str, float]]:
    """The ``top`` largest off-diagonal cells as (true, predicted, count), largest first."""
    counts = torch.as_tensor(matrix, dtype=torch.float64).clone()
    counts.fill_diagonal_(-1)
    values, flat = counts.flatten().topk(min(top, counts.numel() - len(counts)))
    cells = zip(flat // counts.shape[1], flat % counts.shape[1], values, strict=True)
    return [(classes[int(i)], classes[int(j)], float(v)) for i, j, v in cells]


def as_text(report: dict) -> str:
    """Aligned text in the layout of scikit-learn's classification_report."""
    width = max(len(name) for name in [*report["per_class"], "weighted avg"])
    head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>8}"

    def row(name: str, r: dict) -> str:
        return f"{name:>{width}} " + " ".join(f"{r[k]:>9.4f}" for k in SCORES) + f" {r['support']:>8d}"

    lines = [head, ""] + [row(name, r) for name, r in report["per_class"].items()] + [""]
    total = report["macro"]["support"]
    lines.append(f"{'accuracy':>{width}} {'':>9} {'':>9} {report['accuracy']:>9.4f} {total:>8d}")
    lines += [row("macro avg", report["macro"]), row("weighted avg", report["weighted"])]
    return "\n".join(lines)


def as_markdown(report: dict, title: str = "") -> str:
    lines = [f"# {title}", ""] if title else []
    lines += ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]

    def cells(r: dict) -> str:
        return " | ".join(f"{r[k]:.4f}" for k in SCORES) + f" | {r['support']}"

    lines += [f"| {name} | {cells(r)} |" for name, r in report["per_class"].items()]
    lines.append(f"| **accuracy** | | | **{report['accuracy']:.4f}** | {report['macro']['support']} |")
    lines += [f"| macro avg | {cells(report['macro'])} |", f"| weighted avg | {cells(report['weighted'])} |"]
    return "\n".join(lines) + "\n"


def mean_std(values: list[float | None]) -> dict:
    known = [v for v in values if v is not None]
    if not known:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(known) if len(known) > 1 else 0.0
    return {"mean": statistics.fmean(known), "std": std, "n": len(known)}


class Mistakes(NamedTuple):
    """Wrong predictions, most confident first: what a figure draws is the first four."""

    images: Tensor  # float pixels [k, 28, 28]
    true: Tensor
    predicted: Tensor
    confidence: Tensor
    index: Tensor  # position in the evaluated set, -1 when unknown


class ConfidentMistakes(Metric):
    """The ``k`` most confident wrong predictions, as a torchmetrics Metric: each update keeps this rank's
    ``k`` best candidates, and under DDP ``compute()`` gathers every rank's (``dist_reduce_fx="cat"``) and
    keeps the ``k`` best of all."""

    full_state_update = False

    def __init__(self, k: int = MISTAKES_SHOWN, **kwargs) -> None:
        super().__init__(**kwargs)
        self.k = k
        for name in Mistakes._fields:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self, images: Tensor, labels: Tensor, probabilities: Tensor, index: Tensor | None = None
    ) -> None:
        confidence, predicted = probabilities.detach().float().max(1)
        wrong = predicted != labels
        index = torch.full_like(labels, -1) if index is None else index.to(labels.device)
        pixels = images[wrong].reshape(-1, IMAGE_SIZE, IMAGE_SIZE).float()
        found = Mistakes(pixels, labels[wrong], predicted[wrong], confidence[wrong], index[wrong])
        best = _most_confident([self._kept(), found], self.k)  # memory stays k images, whatever the set
        for name, value in zip(Mistakes._fields, best, strict=True):
            setattr(self, name, [value])

    def compute(self) -> Mistakes:
        return _most_confident([self._kept()], self.k)

    def _kept(self) -> Mistakes:
        parts = [getattr(self, name) for name in Mistakes._fields]
        if isinstance(parts[0], list) and not parts[0]:  # nothing seen yet
            return Mistakes(torch.empty(0, IMAGE_SIZE, IMAGE_SIZE, device=self.device),
                            *(torch.empty(0, dtype=dtype, device=self.device)
                              for dtype in (torch.long, torch.long, torch.float, torch.long)))  # fmt: skip
        return Mistakes(*(dim_zero_cat(part) for part in parts))


def _most_confident(groups: list[Mistakes], k: int) -> Mistakes:
    joined = Mistakes(*(torch.cat([getattr(g, name).to(groups[0].images.device) for g in groups])
                        for name in Mistakes._fields))  # fmt: skip
    keep = joined.confidence.argsort(descending=True, stable=True)[:k]
    return Mistakes(*(part[keep] for part in joined))
