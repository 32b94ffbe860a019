"""Classification-report arithmetic on a tiny fixed example, confused pairs, and the kept mistakes."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.classification import multiclass_f1_score, multiclass_precision

from pixelsense.train.report import (
    ConfidentMistakes,
    as_markdown,
    as_text,
    classification_report,
    confused_pairs,
)

NAMES = ("a", "b", "c")
LABELS = torch.tensor([0, 0, 1, 2, 2, 2])
PREDS = torch.tensor([0, 1, 1, 2, 2, 0])


def scores(preds: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(preds, 3).float()


def test_report_is_the_confusion_matrix_arithmetic():
    report = classification_report(scores(PREDS), LABELS, NAMES)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    a, b, c = (report["per_class"][n] for n in NAMES)
    assert [a["support"], b["support"], c["support"]] == [2, 1, 3]  # the matrix's row sums
    assert (a["precision"], b["precision"], c["precision"]) == pytest.approx((1 / 2, 1 / 2, 1.0))
    assert (a["recall"], b["recall"], c["recall"]) == pytest.approx((1 / 2, 1.0, 2 / 3))
    assert (a["f1"], b["f1"], c["f1"]) == pytest.approx((1 / 2, 2 / 3, 4 / 5))
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro"]["f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    assert report["weighted"]["f1"] == pytest.approx((2 * 1 / 2 + 1 * 2 / 3 + 3 * 4 / 5) / 6)
    assert report["macro"]["support"] == report["weighted"]["support"] == 6


def test_averages_agree_with_torchmetrics():
    torch.manual_seed(0)
    labels = torch.randint(0, 10, (400,))
    probs = torch.randn(400, 10).softmax(1)
    report = classification_report(probs, labels)
    preds = probs.argmax(1)
    for average in ("macro", "weighted"):
        assert report[average]["f1"] == pytest.approx(
            multiclass_f1_score(preds, labels, 10, average=average).item()
        )
        expected = multiclass_precision(preds, labels, 10, average=average).item()
        assert report[average]["precision"] == pytest.approx(expected)
    assert report["accuracy"] == pytest.approx((preds == labels).float().mean().item())


def test_confused_pairs_are_the_largest_off_diagonal_cells():
    matrix = [[50, 1, 9], [0, 40, 2], [7, 0, 30]]
    assert confused_pairs(matrix, NAMES, top=3) == [("a", "c", 9.0), ("c", "a", 7.0), ("b", "c", 2.0)]


def test_text_and_markdown_carry_every_class_and_the_averages():
    report = classification_report(scores(PREDS), LABELS, NAMES)
    text = as_text(report).splitlines()
    assert text[0].split() == ["precision", "recall", "f1-score", "support"]
    rows = {line.split()[0]: line.split()[1:] for line in text[2:5]}
    assert rows["c"] == ["1.0000", "0.6667", "0.8000", "3"]
    assert len({len(line) for line in text[2:5]}) == 1  # aligned columns
    assert text[-3].split() == ["accuracy", "0.6667", "6"] and text[-1].startswith("weighted avg")
    markdown = as_markdown(report, title="t")
    assert "| c | 1.0000 | 0.6667 | 0.8000 | 3 |" in markdown and "**0.6667**" in markdown


def test_confident_mistakes_keep_the_k_most_confident_wrong_predictions():
    kept = ConfidentMistakes(k=2)
    images = torch.arange(4.0)[:, None, None].expand(4, 28, 28)  # image i is filled with i
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    kept.update(images, torch.tensor([0, 0, 0, 1]), probs)  # rows 1, 2, 3 are wrong
    shown = kept.compute()
    assert shown.images[:, 0, 0].tolist() == [1.0, 2.0] and shown.predicted.tolist() == [1, 1]
    kept.update(images[:1] + 10, torch.tensor([1]), torch.tensor([[0.95, 0.05]]))
    shown = kept.compute()
    assert shown.images[:, 0, 0].tolist() == [10.0, 1.0] and shown.confidence.tolist() == pytest.approx(
        [0.95, 0.8]
    )
    assert shown.true.tolist() == [1, 0] and len(kept.images) == 1 and len(kept.images[0]) == 2  # k kept


def test_a_class_never_seen_does_not_count_in_the_macro_average_as_in_torchmetrics():
    labels, preds = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])  # class 2 never appears
    report = classification_report(scores(preds), labels, NAMES)
    expected = multiclass_f1_score(preds, labels, 3, average="macro").item()
    assert report["macro"]["f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)  # classes a and b only
    assert report["macro"]["f1"] == pytest.approx(expected)
