"""The ANN against the CNN: each model's runs evaluated on the official test set, summarised as mean ± std
over seeds, and written as ``report.md`` (tables and a conclusion drawn from the numbers), two figures and
each model's ``report.json``. ``scripts/compare.py`` trains the runs or takes checkpoints."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import torch

from pixelsense.constants import CLASSES
from pixelsense.files import write_text_atomic
from pixelsense.report import SCORES, classification_report

SUMMARY = ("accuracy", "precision", "recall", "f1", "train_seconds", "onnx_img_per_s")
FILES = ("report.md", "confusion_matrices.png", "per_class_f1.png", "ann/report.json", "cnn/report.json")
SPEED_BATCH = 256  # onnxruntime throughput is measured at this batch size over the whole test set


def onnx_throughput(model, images: torch.Tensor, threads: int) -> float:
    """Images per second of the model's verified ONNX export through onnxruntime (best of 3 passes)."""
    from pixelsense.export import ort_session

    session = ort_session(model, images, threads)
    pixels = images.reshape(-1, 1, 28, 28).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(pixels), SPEED_BATCH):
            session.run(["probabilities"], {"images": pixels[i : i + SPEED_BATCH]})
        best = min(best, time.perf_counter() - start)
    return len(pixels) / best


def evaluate_runs(ckpts: list[str], images: torch.Tensor, labels: torch.Tensor, threads: int) -> dict:
    """Each checkpoint's report on the test set, plus its training time, and the model's summary."""
    from pixelsense.evaluate import checkpoint_probabilities
    from pixelsense.export import load_checkpoint, run_card

    runs = []
    for ckpt in ckpts:
        report = classification_report(checkpoint_probabilities(ckpt, images), labels)
        card = run_card(ckpt)
        seed = card.get("config", {}).get("seed")
        seconds, config = card.get("train_seconds"), card.get("config")
        runs.append(
            {"checkpoint": str(ckpt), "seed": seed, "train_seconds": seconds, "config": config, **report}
        )
    model = load_checkpoint(ckpts[0])
    speed = onnx_throughput(model, images, threads)
    return {
        "model": model.hparams.arch,
        "params": sum(p.numel() for p in model.parameters()),
        "runs": runs,
        "onnx_img_per_s": speed,
        "onnx_threads": threads,
        "summary": _summary(runs, speed),
    }


def _mean_std(values: list[float | None]) -> dict:
    known = [v for v in values if v is not None]
    if not known:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(known) if len(known) > 1 else 0.0
    return {"mean": statistics.fmean(known), "std": std, "n": len(known)}


def _summary(runs: list[dict], speed: float) -> dict:
    summary = {"accuracy": _mean_std([r["accuracy"] for r in runs])}
    summary |= {k: _mean_std([r["macro"][k] for r in runs]) for k in SCORES}
    summary["train_seconds"] = _mean_std([r["train_seconds"] for r in runs])
    summary["onnx_img_per_s"] = _mean_std([speed])
    summary["per_class_f1"] = {c: _mean_std([r["per_class"][c]["f1"] for r in runs]) for c in CLASSES}
    matrices = torch.tensor([r["confusion_matrix"] for r in runs], dtype=torch.float64)
    summary["confusion_matrix_mean"] = matrices.mean(0).tolist()
    return summary


def write_comparison(results: dict[str, dict], out_dir: str | os.PathLike) -> Path:
    """Write FILES into ``out_dir`` from ``{"ann": evaluate_runs(...), "cnn": evaluate_runs(...)}``."""
    from pixelsense.plots import confusion_matrices_figure, per_class_bars_figure, save_png
    from pixelsense.summary import markdown

    out_dir = Path(out_dir)
    for name, result in results.items():
        write_text_atomic(out_dir / name / "report.json", json.dumps(result, indent=2))
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
    save_png(confusion_matrices_figure(matrices), out_dir / "confusion_matrices.png")
    save_png(per_class_bars_figure(bars), out_dir / "per_class_f1.png")
    write_text_atomic(out_dir / "report.md", markdown(results["ann"], results["cnn"]))
    return out_dir
