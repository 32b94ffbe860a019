"""The ANN against the CNN: each model's runs evaluated on the official test set, summarised as mean ± std
over seeds, and written as ``report.md`` (tables and a conclusion drawn from the numbers), two figures and
each model's ``report.json``. ``scripts/compare.py`` trains the runs or takes checkpoints."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from pixelsense.constants import CLASSES, IMAGE_SIZE
from pixelsense.files import atomic_files
from pixelsense.train.report import SCORES, classification_report, mean_std

FILES = ("report.md", "confusion_matrices.png", "per_class_f1.png", "ann/report.json", "cnn/report.json")
SPEED_BATCH = 256  # onnxruntime throughput is measured at this batch size over the whole test set


def check_checkpoints(ckpts: dict[str, list[str]]) -> None:
    """Refuse, before any work, a file that is not a checkpoint of the model it was given for, or the
    same checkpoint twice (it would count as two seeds)."""
    from pixelsense.train.checkpoints import CheckpointError, load_checkpoint

    seen: set[Path] = set()
    for model, paths in ckpts.items():
        for path in paths:
            arch = load_checkpoint(path).hparams.arch
            if arch != model:
                raise CheckpointError(f"{path} holds the {arch.upper()}, but was given to --{model}; pass "
                                      f"{model.upper()} checkpoints to --{model}.")  # fmt: skip
            if Path(path).resolve() in seen:
                raise CheckpointError(f"{path} is given twice; each run counts once.")
            seen.add(Path(path).resolve())


def onnx_throughput(model, images: torch.Tensor, threads: int) -> float:
    """Images per second of the model's verified ONNX export through onnxruntime (best of 3 passes)."""
    from pixelsense.train.export import ort_session

    session = ort_session(model, images, threads)
    pixels = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(pixels), SPEED_BATCH):
            session.run(["probabilities"], {"images": pixels[i : i + SPEED_BATCH]})
        best = min(best, time.perf_counter() - start)
    return len(pixels) / best


def evaluate_runs(ckpts: list[str], images: torch.Tensor, labels: torch.Tensor, threads: int) -> dict:
    """Each checkpoint's report on the test set with its training time and configuration, the model's
    onnxruntime throughput, and the summary over the runs."""
    from pixelsense.study.evaluate import torch_predictor
    from pixelsense.train.checkpoints import load_checkpoint, run_card

    runs = []
    for ckpt in ckpts:
        model = load_checkpoint(ckpt)
        report = classification_report(torch_predictor(model)(images), labels)
        card = run_card(ckpt)
        config = card.get("config") or {}
        run = {
            "checkpoint": str(ckpt),
            "seed": config.get("seed"),
            "train_seconds": card.get("train_seconds"),
        }
        runs.append({**run, "config": config or None, **report})
    speed = onnx_throughput(model, images, threads)  # the last run's weights: speed does not depend on them
    return {
        "model": model.hparams.arch,
        "params": sum(p.numel() for p in model.parameters()),
        "runs": runs,
        "onnx_img_per_s": speed,
        "onnx_threads": threads,
        "onnx_batch": SPEED_BATCH,
        "summary": _summary(runs, speed),
    }


def _summary(runs: list[dict], speed: float) -> dict:
    summary = {"accuracy": mean_std([r["accuracy"] for r in runs])}
    summary |= {k: mean_std([r["macro"][k] for r in runs]) for k in SCORES}
    summary["train_seconds"] = mean_std([r["train_seconds"] for r in runs])
    summary["onnx_img_per_s"] = mean_std([speed])
    summary["per_class_f1"] = {c: mean_std([r["per_class"][c]["f1"] for r in runs]) for c in CLASSES}
    matrices = torch.tensor([r["confusion_matrix"] for r in runs], dtype=torch.float64)
    summary["confusion_matrix_mean"] = matrices.mean(0).tolist()
    return summary


def write_comparison(results: dict[str, dict], out_dir: str | os.PathLike) -> Path:
    """Write FILES into ``out_dir`` from ``{"ann": evaluate_runs(...), "cnn": evaluate_runs(...)}``."""
    from pixelsense.study.summary import markdown
    from pixelsense.train.plots import confusion_matrices_figure, per_class_bars_figure, save_png

    matrices, bars = {}, {}
    for name, r in results.items():
        n = len(r["runs"])
        matrices[f"{name.upper()} (mean of {n} runs)" if n > 1 else name.upper()] = r["summary"][
            "confusion_matrix_mean"
        ]
        f1 = r["summary"]["per_class_f1"]
        bars[name.upper()] = (
            [f1[c]["mean"] for c in CLASSES],
            [f1[c]["std"] for c in CLASSES] if n > 1 else None,
        )
    with atomic_files(out_dir) as tmp:  # every file, or none
        for name, result in results.items():
            (tmp / name).mkdir()
            (tmp / name / "report.json").write_text(json.dumps(result, indent=2))
        save_png(confusion_matrices_figure(matrices), tmp / "confusion_matrices.png")
        save_png(per_class_bars_figure(bars), tmp / "per_class_f1.png")
        (tmp / "report.md").write_text(markdown(results["ann"], results["cnn"]))
    return Path(out_dir)
