"""The training runs behind a comparison: each model's default recipe for each seed, in its own folder.

A run whose ``metrics.json`` already holds the same recipe and seed is reused, so an interrupted
``scripts/compare.py --seeds 3`` picks up where it stopped instead of training everything again.
"""

from __future__ import annotations

import json
from pathlib import Path

from pixelsense.config import RECIPES, FitConfig, parse_config
from pixelsense.constants import ARCHS


def run_dir(out_dir: str | Path, model: str, seed: int) -> Path:
    return Path(out_dir) / "runs" / f"{model}-seed{seed}"


def _args(model: str, seed: int, out_dir: str | Path, data_dir: str, download: bool) -> list[str]:
    """fit.py's arguments for one run. One device: the runs are small, and one process keeps the
    sequence of runs in one place."""
    return [
        "--model", model, "--seed", str(seed), "--data-dir", data_dir, "--devices", "1",
        "--checkpoint-dir", str(run_dir(out_dir, model, seed)),
        "--logdir", str(Path(out_dir) / "tensorboard"), "--download" if download else "--no-download",
    ]  # fmt: skip


def finished(cfg: FitConfig) -> dict | None:
    """The metrics of a finished run of exactly this recipe and seed in ``cfg.checkpoint_dir``, else None."""
    path = Path(cfg.checkpoint_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
        saved = metrics["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    want = json.loads(cfg.to_json())
    keys = ["model", "seed", *RECIPES[cfg.model]]
    same = all(saved.get(k) == want[k] for k in keys)
    return metrics if same and Path(metrics.get("best_checkpoint", "")).is_file() else None


def train_runs(
    seeds: int, out_dir: str | Path, data_dir: str = "data", download: bool = True, log=print
) -> dict[str, list[dict]]:
    """Metrics of ``seeds`` runs (seeds 0..N-1) of each model, training only the runs not already done."""
    from pixelsense.train import fit

    results: dict[str, list[dict]] = {model: [] for model in ARCHS}
    for model in ARCHS:  # the ANN first: its runs are short, so partial results come early
        for seed in range(seeds):
            args = _args(model, seed, out_dir, data_dir, download)
            cfg = parse_config(args)
            metrics = finished(cfg)
            if metrics is None:
                log(f"compare: training {model} seed {seed} into {cfg.checkpoint_dir}")
                metrics = fit(cfg, command=" ".join(["python scripts/fit.py", *args]))
            else:
                log(f"compare: reusing {cfg.checkpoint_dir} ({model} seed {seed}, already trained)")
            results[model].append(metrics)
    return results
