"""Why the CNN wins: controlled experiments that each change one thing against the default recipes, then
the measurements behind ``why.json``, ``why.md`` and the figures. ``scripts/explain.py`` runs it all.

- permutation: both models with and without one fixed pixel permutation (same information, no layout);
- shift: accuracy on the test set shifted by 0–4 pixels, with the ANN also trained with the CNN's
  augmentation (the confound of the default recipes);
- features, saliency and weight sharing: what the plain runs of seed 0 learnt, and what they cost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from pixelsense.constants import ARCHS, CLASSES
from pixelsense.files import atomic_files, check_writable
from pixelsense.infer.looks import OCCLUSION_PATCH
from pixelsense.study.evaluate import Predictor
from pixelsense.study.probes import (
    conv_filters,
    feature_maps,
    occlusion_map,
    shift_accuracy,
    strongest_units,
    weight_sharing,
)
from pixelsense.study.runs import train_run
from pixelsense.train.config import RECIPE_FIELDS, RECIPES
from pixelsense.train.report import mean_std

# name: (model, pixels permuted, the recipe whose augmentation replaces the model's own, or None)
EXPERIMENTS: dict[str, tuple[str, bool, str | None]] = {
    "ann": ("ann", False, None),
    "ann_permuted": ("ann", True, None),
    "ann_same_augmentation": ("ann", False, "cnn"),
    "cnn": ("cnn", False, None),
    "cnn_permuted": ("cnn", True, None),
}
QUICK_EPOCHS = 1  # --quick: every run this long (the numbers mean nothing, the files are complete)
FILES = ("why.md", "why.json", "shift_robustness.png", "features.png", "saliency.png")
PIXELS = (0, 1, 2, 3, 4)  # shift distances of the robustness curve
SHIFT_CURVES = ("ann", "ann_same_augmentation", "cnn", "cnn_permuted")  # the runs measured under shifts
UNITS_SHOWN = 32  # the ANN's strongest first-layer units drawn in features.png


def quick_dir(out_dir: str | os.PathLike) -> Path:
    """Where --quick puts its runs and files."""
    return Path(out_dir) / "quick"


def run_options(name: str, seed: int) -> dict:
    """The FitConfig fields that make experiment ``name`` out of its model's default recipe. Run ``k`` is
    permuted by the permutation of seed ``k``: the spread over seeds covers the choice of order too."""
    _, permuted, augmentation = EXPERIMENTS[name]
    options: dict = {"permute_pixels": seed} if permuted else {}
    if augmentation is not None:
        recipe = RECIPES["cpu"][augmentation]  # augmentation is the same in every device's recipe
        options |= {"flip": recipe["flip"], "translate": recipe["translate"]}
    return options


def train_experiments(seeds: int, out_dir: str | Path, data_dir: str = "data", download: bool = True,
                      quick: bool = False, reuse: Sequence[str | Path] = (), log=print
                      ) -> dict[str, list[dict]]:  # fmt: skip
    """Every experiment's runs (seeds 0..N-1) in ``<out_dir>/runs/``, seed by seed, training only what is
    not finished yet. Plain runs finished by compare.py in one of the ``reuse`` folders are taken as they
    are. Quick runs (QUICK_EPOCHS long) live in ``quick_dir(out_dir)``, never in a real run's place."""
    length = {"epochs": QUICK_EPOCHS} if quick else {}
    out_dir = quick_dir(out_dir) if quick else out_dir
    runs: dict[str, list[dict]] = {name: [] for name in EXPERIMENTS}
    for seed in range(seeds):
        for name, (model, _, _) in EXPERIMENTS.items():
            options = run_options(name, seed) | length
            reused = reuse if name == model else ()  # compare.py has plain runs only
            metrics = train_run(model, seed, out_dir, data_dir, download, name, options, reused, log)
            runs[name].append(metrics)
    return runs


def _stats(values: Sequence[float]) -> dict:
    """mean, std (n − 1), n and the values themselves."""
    return {**mean_std(list(values)), "runs": list(values)}


def _run_record(name: str, metrics: dict) -> dict:
    config = metrics["config"]
    keep = ("test_accuracy", "train_seconds", "best_checkpoint", "command", "config")
    return {"experiment": name, "model": config["model"], "seed": config["seed"],
            "permute_pixels": config.get("permute_pixels"), **{k: metrics.get(k) for k in keep}}  # fmt: skip


def most_confused_pair(matrices: Sequence) -> tuple[int, int]:
    """The two classes most often taken for each other, both ways, over the given confusion matrices."""
    total = torch.tensor(matrices, dtype=torch.float64).sum(0)
    both = (total + total.T).triu(1)
    a, b = divmod(int(both.argmax()), len(both))
    return a, b


def pick_examples(
    labels: Tensor, predicted: dict[str, Tensor], pair: tuple[int, int]
) -> list[tuple[int, str]]:
    """Test images of the pair to look at, right and wrong side by side: for each class of the pair, the
    first image both models get right, the first the ANN takes for the other class while the CNN is right,
    and the first both take for the other class (cases with no such image are left out)."""
    cases = []
    for true, other in (pair, pair[::-1]):
        for case, ann, cnn in (("both right", true, true), ("ANN wrong, CNN right", other, true),
                               ("both wrong", other, other)):  # fmt: skip
            hits = ((labels == true) & (predicted["ann"] == ann) & (predicted["cnn"] == cnn)).nonzero()
            if len(hits):
                cases.append((int(hits[0]), f"{CLASSES[true]}: {case}"))
    return cases


def shift_curves(predictors: Sequence[Predictor], images: Tensor, labels: Tensor) -> dict:
    """Accuracy at each of PIXELS for each run, and its mean and std over the runs."""
    per_run = [shift_accuracy(predict, images, labels, PIXELS) for predict in predictors]
    by_pixel = [_stats(values) for values in zip(*per_run, strict=True)]
    return {"mean": [s["mean"] for s in by_pixel], "std": [s["std"] for s in by_pixel], "runs": per_run}


def saliency(seeing: dict[str, Predictor], images: Tensor, labels: Tensor, pair: tuple[int, int]
             ) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """Occlusion maps of both models on the picked examples: (what why.json records, the figure's rows)."""
    probabilities = {name: predict(images) for name, predict in seeing.items()}
    predicted = {name: p.argmax(1) for name, p in probabilities.items()}
    records, rows = [], []
    for index, case in pick_examples(labels, predicted, pair):
        label = int(labels[index])
        record, maps = {"index": index, "case": case, "true": CLASSES[label]}, {}
        for name, predict in seeing.items():
            guess = int(predicted[name][index])
            confidence = float(probabilities[name][index, guess])
            heat = occlusion_map(predict, images[index], label)
            maps[name.upper()] = (heat, CLASSES[guess], confidence, guess == label)
            record[name] = {"predicted": CLASSES[guess], "confidence": round(confidence, 4)}
        records.append(record)
        rows.append({"image": images[index], "title": f"#{index} {case}", "maps": maps})
    return records, rows


def featured_images(records: list[dict], labels: Tensor, pair: tuple[int, int]) -> dict[str, int]:
    """One test image per class of the pair for the feature maps: one the ANN gets wrong and the CNN right
    where there is one, else the class's first."""
    chosen = {}
    for cls in pair:
        wanted = [r["index"] for r in records if r["case"] == f"{CLASSES[cls]}: ANN wrong, CNN right"]
        chosen[CLASSES[cls]] = wanted[0] if wanted else int((labels == cls).nonzero()[0])
    return chosen


def recipe_differences(runs: dict[str, list[dict]]) -> list[str]:
    """The recipe values, other than the layer sizes, in which the ANN trained with the CNN's augmentation
    still differs from the CNN: what the augmentation control leaves uncontrolled."""
    ann, cnn = runs["ann_same_augmentation"][0]["config"], runs["cnn"][0]["config"]
    return [k for k in RECIPE_FIELDS if k not in ("hidden", "channels") and ann[k] != cnn[k]]


def _measure_shifts(models: dict[str, list], images: Tensor, labels: Tensor, threads: int
                    ) -> tuple[dict, dict]:  # fmt: skip
    """Shift curves of the loaded models (name → one per seed) through onnxruntime; also returns their
    predictors, in the same shape."""
    from pixelsense.study.evaluate import session_predictor
    from pixelsense.train.export import ort_session

    predictors = {
        name: [session_predictor(ort_session(model, images, threads), name) for model in ms]
        for name, ms in models.items()
    }
    return {name: shift_curves(ps, images, labels) for name, ps in predictors.items()}, predictors


def _look_inside(runs: dict[str, list[dict]], nets: dict[str, nn.Module], seeing: dict[str, Predictor],
                 images: Tensor, labels: Tensor, log=print) -> tuple[dict, dict]:  # fmt: skip
    """Saliency, first layers and feature maps of the plain runs of seed 0 (their ``nets`` and predictors,
    by architecture), and what weight sharing saves: (why.json's part, the figures' part)."""
    pair = most_confused_pair([m["confusion_matrix"] for arch in ARCHS for m in runs[arch]])
    log(f"occlusion sensitivity on {CLASSES[pair[0]]} ↔ {CLASSES[pair[1]]}")
    records, rows = saliency(seeing, images, labels, pair)
    featured = featured_images(records, labels, pair)
    ann, cnn = (nets[arch] for arch in ARCHS)
    units, unit_pictures = strongest_units(ann, UNITS_SHOWN)
    found = {
        "weight_sharing": {a: weight_sharing(net) for a, net in zip(ARCHS, (ann, cnn), strict=True)},
        "pair": [CLASSES[c] for c in pair],
        "saliency": records,
        "occlusion_patch": OCCLUSION_PATCH,
        "features": {"ann_units": units.tolist(), "images": featured},
    }
    pictures = {
        "saliency": rows,
        "units": (unit_pictures, units.tolist()),
        "filters": conv_filters(cnn),
        "maps": {name: (images[i], feature_maps(cnn, images[i])) for name, i in featured.items()},
    }
    return found, pictures


def analyse(runs: dict[str, list[dict]], images: Tensor, labels: Tensor, threads: int = 1, log=print
            ) -> tuple[dict, dict]:  # fmt: skip
    """Measure the trained runs on the test set (uint8 ``images``, ``labels``). Returns why.json's numbers
    (all but the conclusion and the command) and what the figures draw."""
    from pixelsense.train.checkpoints import load_checkpoint

    accuracy = {name: _stats([m["test_accuracy"] for m in ms]) for name, ms in runs.items()}
    log(f"measuring {', '.join(SHIFT_CURVES)} on the test set shifted by up to {PIXELS[-1]} pixels")
    models = {name: [load_checkpoint(m["best_checkpoint"]) for m in runs[name]] for name in SHIFT_CURVES}
    curves, predictors = _measure_shifts(models, images, labels, threads)
    nets = {arch: models[arch][0].net for arch in ARCHS}  # seed 0 of the plain recipes
    seeing = {arch: predictors[arch][0] for arch in ARCHS}
    found, pictures = _look_inside(runs, nets, seeing, images, labels, log)
    for arch in ARCHS:
        found["weight_sharing"][arch]["accuracy"] = accuracy[arch]["mean"]
    why = {
        "seeds": len(runs["ann"]),
        "permutation": {a: {"plain": accuracy[a], "permuted": accuracy[f"{a}_permuted"]} for a in ARCHS},
        "shift": {
            "pixels": list(PIXELS),
            **{name: c["mean"] for name, c in curves.items()},
            "std": {name: c["std"] for name, c in curves.items()},
            "runs": {name: c["runs"] for name, c in curves.items()},
        },
        "augmentation": {
            n: {k: runs[n][0]["config"][k] for k in ("flip", "translate")} for n in SHIFT_CURVES
        },
        "recipe_differences": recipe_differences(runs),
        **found,
        "accuracy": accuracy,
        "runs": [_run_record(name, m) for name, ms in runs.items() for m in ms],
    }
    pictures["shift"] = {name: (c["mean"], c["std"]) for name, c in curves.items()}
    return why, pictures


def write_why(why: dict, pictures: dict, out_dir: str | os.PathLike) -> Path:
    """Write FILES into ``out_dir``: all of them, or none."""
    from pixelsense.study.why_figures import features_figure, saliency_figure, shift_figure
    from pixelsense.study.why_report import LABELS, captions, markdown
    from pixelsense.train.plots import save_png

    texts = captions(why)
    curves = {LABELS[name]: curve for name, curve in pictures["shift"].items()}
    units, unit_ids = pictures["units"]
    figures = {
        "shift_robustness.png": shift_figure(why["shift"]["pixels"], curves, texts["shift"]),
        "features.png": features_figure(
            units, unit_ids, pictures["filters"], pictures["maps"], texts["features"]
        ),
        "saliency.png": saliency_figure(pictures["saliency"], texts["saliency"]),
    }
    with atomic_files(out_dir) as tmp:
        (tmp / "why.json").write_text(json.dumps(why, indent=2))
        (tmp / "why.md").write_text(markdown(why))
        for name, figure in figures.items():
            save_png(figure, tmp / name)
    return Path(out_dir)


def explain(seeds: int, out_dir: str | os.PathLike, data_dir: str = "data", download: bool = True,
            quick: bool = False, reuse: Sequence[str | os.PathLike] = (), threads: int = 1,
            command: str = "python scripts/explain.py", log=print) -> dict:  # fmt: skip
    """Train what is missing, measure, and write FILES; returns why.json's content. With ``quick`` all of
    it, runs and files, goes to ``<out_dir>/quick/``: a quick report never replaces a real one."""
    from pixelsense.study.why_report import conclusion
    from pixelsense.train.data import official_test_set

    images, labels = official_test_set(data_dir, download)  # missing data stops here, before any training
    files = quick_dir(out_dir) if quick else Path(out_dir)
    check_writable(files)  # and so does a folder that cannot take the results
    runs = train_experiments(seeds, out_dir, data_dir, download, quick, reuse, log)
    start = time.perf_counter()
    why, pictures = analyse(runs, images, labels, threads, log)
    training = sum(m["train_seconds"] for ms in runs.values() for m in ms)
    why = {"command": command, "quick": quick, **why,
           "seconds": {"training": training, "analysis": time.perf_counter() - start}}  # fmt: skip
    why["conclusion"] = conclusion(why)
    write_why(why, pictures, files)
    return why | {"output_dir": str(files)}
