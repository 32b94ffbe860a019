"""The README's results are the reference runs' metrics (checkpoints/<model>.json), made with the
current default recipes, and they meet the targets. Regenerate the rows with
``python tests/test_readme.py`` after a new reference run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelsense.config import FitConfig
from pixelsense.constants import CLASSES

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("ann", "cnn")
# The targets of the default recipes on a 2-core CPU: (test accuracy at least, training seconds at most).
TARGETS = {"ann": (0.890, 180), "cnn": (0.920, 900)}


def card(model: str) -> dict:
    return json.loads((ROOT / "checkpoints" / f"{model}.json").read_text())


def result_rows() -> list[str]:
    rows = []
    for model in MODELS:
        m = card(model)
        rows.append(
            f"| {model.upper()} | {100 * m['test_accuracy']:.2f} % | {m['test_f1_macro']:.4f} | "
            f"{m['params']:,} | {m['epochs']} | {m['train_seconds']:.0f} s | `{m['command']}` |"
        )
    return rows


def per_class_rows() -> list[str]:
    ann, cnn = card("ann")["per_class"], card("cnn")["per_class"]
    return [
        f"| {name} | {ann[name]['f1']:.4f} | {cnn[name]['f1']:.4f} | "
        f"{cnn[name]['f1'] - ann[name]['f1']:+.4f} |"
        for name in CLASSES
    ]


@pytest.mark.parametrize("model", MODELS)
def test_reference_run_used_the_default_recipe_and_meets_its_target(model):
    m = card(model)
    assert m["command"] == f"python scripts/fit.py --model {model}"
    recipe = FitConfig(model=model).resolved()
    assert FitConfig(**{**m["config"], "resume": False}).resolved() == recipe
    accuracy, seconds = TARGETS[model]
    assert m["test_accuracy"] >= accuracy and m["train_seconds"] <= seconds
    assert sum(sum(row) for row in m["confusion_matrix"]) == 10_000


def test_readme_shows_the_reference_numbers():
    readme = (ROOT / "README.md").read_text()
    for row in result_rows() + per_class_rows():
        assert row in readme


def test_readme_claim_about_where_the_cnn_helps_holds():
    # "the CNN's gains are largest on ... shirt, T-shirt/top, pullover, coat, where the ANN fails most"
    ann, cnn = card("ann")["per_class"], card("cnn")["per_class"]
    garments = {"Shirt", "T-shirt/top", "Pullover", "Coat"}
    assert set(sorted(CLASSES, key=lambda c: ann[c]["f1"])[:4]) == garments
    assert set(sorted(CLASSES, key=lambda c: ann[c]["f1"] - cnn[c]["f1"])[:4]) == garments


if __name__ == "__main__":
    print("\n".join(result_rows()), "", "\n".join(per_class_rows()), sep="\n")
