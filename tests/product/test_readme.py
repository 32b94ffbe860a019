"""The README's results are the reference runs' metrics (checkpoints/<model>.json), made with the
current default recipes, and they meet the targets; the README's comparison is checkpoints/compare/, made by
``python scripts/compare.py --seeds 3``. Regenerate the reference rows with ``python tests/product/test_readme.py``
after a new reference run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pixelsense.constants import CLASSES
from pixelsense.study.explain import EXPERIMENTS, run_options
from pixelsense.study.summary import markdown
from pixelsense.study.why_report import conclusion as conclusion_why
from pixelsense.study.why_report import markdown as markdown_why
from pixelsense.train.config import FitConfig

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("ann", "cnn")
# The targets of the default recipes on a 2-core CPU: (test accuracy at least, training seconds at most).
TARGETS = {"ann": (0.890, 180), "cnn": (0.920, 900)}


def saved(config: dict) -> FitConfig:
    """A run's saved configuration, resolved; runs saved before recipes had names used the CPU ones."""
    return FitConfig(**{"recipe": "cpu", **config, "resume": False}).resolved()


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


def comparison(model: str) -> dict:
    return json.loads((ROOT / "checkpoints" / "compare" / model / "report.json").read_text())


@pytest.mark.parametrize("model", MODELS)
def test_reference_run_used_the_default_recipe_and_meets_its_target(model):
    m = card(model)
    assert m["command"] == f"python scripts/fit.py --model {model}"
    assert saved(m["config"]) == FitConfig(model=model, recipe="cpu").resolved()
    accuracy, seconds = TARGETS[model]
    assert m["test_accuracy"] >= accuracy and m["train_seconds"] <= seconds
    assert sum(sum(row) for row in m["confusion_matrix"]) == 10_000


def test_readme_shows_the_reference_numbers():
    readme = (ROOT / "README.md").read_text()
    for row in result_rows():
        assert row in readme


def test_readme_results_are_the_comparison_report_made_from_its_json():
    report = (ROOT / "checkpoints" / "compare" / "report.md").read_text()
    assert report == markdown(comparison("ann"), comparison("cnn"))  # nothing in it was edited by hand
    readme = (ROOT / "README.md").read_text()
    shown = [line for line in report.split("## Runs")[0].splitlines() if line.startswith(("|", "- "))]
    assert len(shown) > 30 and all(line in readme for line in shown)
    assert "python scripts/compare.py --seeds 3" in readme


@pytest.mark.parametrize("model", MODELS)
def test_compared_runs_are_three_seeds_of_the_current_default_recipe(model):
    runs = comparison(model)["runs"]
    assert [run["seed"] for run in runs] == [0, 1, 2]
    for run in runs:
        config = saved(run["config"])
        where = {k: getattr(config, k) for k in ("data_dir", "checkpoint_dir", "logdir", "devices")}
        assert config == FitConfig(model=model, seed=run["seed"], recipe="cpu", **where).resolved()
        assert sum(map(sum, run["confusion_matrix"])) == 10_000


def test_readme_claim_about_where_the_cnn_helps_holds():
    # "The ANN does well on visually distinct classes (trousers, bags, sneakers) and fails on similar
    # upper-body garments: shirt, pullover, coat and T-shirt." And the CNN gains most on those four.
    ann, cnn = (comparison(m)["summary"]["per_class_f1"] for m in MODELS)
    f1 = {c: ann[c]["mean"] for c in CLASSES}
    garments = {"Shirt", "T-shirt/top", "Pullover", "Coat"}
    assert set(sorted(CLASSES, key=f1.get)[:4]) == garments
    assert set(sorted(CLASSES, key=lambda c: f1[c] - cnn[c]["mean"])[:4]) == garments
    assert min(f1[c] for c in ("Trouser", "Bag", "Sneaker")) > max(f1[c] for c in garments)


def why() -> dict:
    return json.loads((ROOT / "checkpoints" / "why" / "why.json").read_text())


def test_readme_why_section_is_the_explain_report_made_from_its_json():
    report = (ROOT / "checkpoints" / "why" / "why.md").read_text()
    numbers = why()
    assert report == markdown_why(numbers) and numbers["conclusion"] == conclusion_why(numbers)
    readme = (ROOT / "README.md").read_text()
    shown = [
        line for line in report.split("## Runs")[0].splitlines() if line.startswith(("|", "- ", "Training:"))
    ]
    assert len(shown) > 25 and all(line in readme for line in shown)
    assert f"`{numbers['command']}`" in readme  # the command that made them
    for figure in ("shift_robustness.png", "features.png", "saliency.png"):
        assert f"checkpoints/why/{figure}" in readme and (ROOT / "checkpoints" / "why" / figure).is_file()


def test_why_runs_are_the_current_recipes_each_changed_by_its_experiment_only():
    numbers = why()
    assert numbers["quick"] is False and numbers["seeds"] >= 2
    assert sorted((r["experiment"], r["seed"]) for r in numbers["runs"]) == sorted(
        (name, seed) for name in EXPERIMENTS for seed in range(numbers["seeds"])
    )
    for run in numbers["runs"]:
        config = saved(run["config"])
        where = {
            k: getattr(config, k) for k in ("data_dir", "checkpoint_dir", "logdir", "devices", "download")
        }
        model = EXPERIMENTS[run["experiment"]][0]
        options = run_options(run["experiment"], run["seed"])
        expected = FitConfig(model=model, seed=run["seed"], recipe="cpu", **options).resolved()
        assert config == dataclasses.replace(expected, **where)


def test_speed_tables_are_the_saved_bench_outputs():
    # The full outputs live in the speed record beside them; the README shows each benchmark's headline ratio.
    record = (ROOT / "checkpoints" / "speed" / "README.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in (
        "bench_train.txt",
        "bench_data.txt",
        "before_after.txt",
        "bench_predict.txt",
        "gpu_h100.txt",
    ):
        saved = (ROOT / "checkpoints" / "speed" / name).read_text().strip().splitlines()
        assert saved and all(line in record for line in saved), name
        ratios = [line for line in saved if "=" in line and " " not in line]  # lightning_overhead=1.14
        assert all(f"`{line}`" in readme for line in ratios), name
    assert "](checkpoints/speed/README.md)" in readme


@pytest.mark.parametrize("model", MODELS)
def test_gpu_recipe_accuracy_in_the_readme_is_its_saved_card(model):
    from pixelsense.train.config import RECIPE_FIELDS, RECIPES

    m = json.loads((ROOT / "checkpoints" / "speed" / f"gpu_recipe_{model}.json").read_text())
    assert m["recipe"] == "gpu" and m["model"] == model
    assert {k: m["config"][k] for k in RECIPE_FIELDS} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in RECIPES["gpu"][model].items()
    }
    readme = (ROOT / "README.md").read_text()
    # Beside it, the CPU recipe's accuracy over the comparison's 3 seeds, as its report.md shows it.
    report = (ROOT / "checkpoints" / "compare" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| test accuracy (%) |"))
    cpu = row.strip("| ").split(" | ")[1 + MODELS.index(model)]
    assert (
        f"`python scripts/fit.py --model {model} --recipe gpu --accelerator cpu` | {100 * m['test_accuracy']:.2f} % | {cpu} % |"
        in readme
    )


def test_readme_serve_table_is_the_saved_bench_output():
    saved = (ROOT / "checkpoints" / "serve" / "bench_serve.txt").read_text().strip().splitlines()
    readme = (ROOT / "README.md").read_text()
    assert saved[-1].startswith("serve_vs_naive=") and all(line in readme for line in saved)
    ratio = float(saved[-1].split("=")[1])
    assert f"pixelsense answers {ratio:.2f} times as many requests" in readme.replace("\n", " ")
    assert "python scripts/bench.py serve" in readme


def photos() -> dict:
    return json.loads((ROOT / "checkpoints" / "photos" / "photos.json").read_text())


def photo_summary(numbers: dict) -> list[str]:
    """The README's sentence on photos: each model's range over the product sets against the items."""

    def product(model: str) -> list[float]:
        return [v["accuracy"] for k, v in numbers["models"][model].items() if k.startswith("product-")]

    def span(model: str) -> str:
        return f"{100 * min(product(model)):.1f}–{100 * max(product(model)):.1f} %"

    def items(model: str) -> str:
        return f"{100 * numbers['models'][model]['dataset-28']['accuracy']:.1f} %"

    return [
        f"the shipped CNN scores {span('cnn.onnx')} on the {len(product('cnn.onnx'))} sets of product photos",
        f"against {items('cnn.onnx')} on the same test items",
        f"the ANN {span('ann.onnx')} against {items('ann.onnx')}",
    ]


def test_photo_table_is_photos_json():
    from pixelsense.study.photo_report import table

    record = (ROOT / "checkpoints" / "photos" / "README.md").read_text()
    readme = (ROOT / "README.md").read_text()
    numbers = photos()
    assert all(line in record for line in table(numbers).splitlines())
    assert all(part in readme.replace("\n", " ") for part in photo_summary(numbers))
    for text in (record, readme):
        assert "python scripts/photos.py --json checkpoints/photos/photos.json" in text.replace("\n", " ")
    assert "](checkpoints/photos/README.md)" in readme
    assert (
        "checkpoints/photos/conversion.png" in readme
        and (ROOT / "checkpoints/photos/conversion.png").is_file()
    )
    cnn = numbers["models"]["cnn.onnx"]
    product = [v["accuracy"] for k, v in cnn.items() if k.startswith("product-")]
    assert min(product) >= card("cnn")["test_accuracy"] - 0.04  # the goal: within 4 points, no flag
    assert all(v["polarity"] == 1.0 for v in cnn.values())


@pytest.mark.slow
def test_photo_scores_are_what_photos_py_gives_now(tmp_path):
    from pixelsense.study.photo_report import score
    from pixelsense.study.photosets import test_items

    numbers = photos()
    models = [str(ROOT / "checkpoints" / name) for name in numbers["models"]]
    images, labels = test_items(str(ROOT / "data"), True)
    again = score(models, images, labels, numbers["count"], numbers["seed"], None, numbers["sharpen"])
    assert again == numbers


if __name__ == "__main__":
    print("\n".join(result_rows()))
