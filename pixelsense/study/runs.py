"""The seeded training runs behind a comparison or an experiment, each in its own folder.

A run whose ``metrics.json`` already holds the same recipe, seed and pixel order is reused, so an
interrupted ``scripts/compare.py --seeds 3`` or ``scripts/explain.py`` picks up where it stopped instead of
training everything again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from pixelsense.constants import ARCHS
from pixelsense.errors import PixelsenseError
from pixelsense.files import read_small
from pixelsense.train.config import RECIPE_FIELDS, FitConfig


def run_dir(out_dir: str | Path, name: str, seed: int) -> Path:
    return Path(out_dir) / "runs" / f"{name}-seed{seed}"


def _config(model: str, seed: int, checkpoint_dir: Path, logdir: Path, data_dir: str, download: bool,
            options: Mapping[str, object]) -> FitConfig:  # fmt: skip
    """One run's configuration, as given (recipe values not filled in yet). One device: the runs are small,
    and one process keeps the sequence of runs in one place."""
    return FitConfig(model=model, seed=seed, data_dir=data_dir, devices="1", download=download,
                     checkpoint_dir=str(checkpoint_dir), logdir=str(logdir), **options)  # fmt: skip


def finished(cfg: FitConfig) -> dict | None:
    """The metrics of a finished run of exactly this recipe, seed and pixel order in ``cfg.checkpoint_dir``,
    else None."""
    path = Path(cfg.checkpoint_dir) / "metrics.json"
    try:
        metrics = json.loads(read_small(path))
        saved = metrics["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    want = json.loads(cfg.to_json())
    keys = ["model", "seed", "permute_pixels", *RECIPE_FIELDS]
    same = all(saved.get(k) == want[k] for k in keys)
    return metrics if same and Path(metrics.get("best_checkpoint", "")).is_file() else None


def train_run(model: str, seed: int, out_dir: str | Path, data_dir: str = "data", download: bool = True,
              name: str | None = None, options: Mapping[str, object] | None = None,
              reuse: Sequence[str | Path] = (), log=print) -> dict:  # fmt: skip
    """The metrics of one run of ``model``'s default recipe changed by ``options`` (FitConfig fields) with
    ``seed``, in ``<out_dir>/runs/<name>-seed<seed>``. A finished run there, or in the same place under one
    of the ``reuse`` folders, is taken as it is; otherwise the run is trained."""
    from pixelsense.train.resume import ResumeError
    from pixelsense.train.run import fit

    name = name or model
    logdir = Path(out_dir) / "tensorboard"
    for folder in [*reuse, out_dir]:
        given = _config(model, seed, run_dir(folder, name, seed), logdir, data_dir, download, options or {})
        metrics = finished(given.resolved())
        if metrics is not None:
            log(f"reusing {run_dir(folder, name, seed)} ({name} seed {seed}, already trained)")
            return metrics
    cfg = given.resolved()  # the last one: this run's own folder
    if (Path(cfg.checkpoint_dir) / "last.ckpt").is_file():  # stopped before its report: go on with it
        cfg = dataclasses.replace(cfg, resume=True)
    log(f"training {name} seed {seed} into {cfg.checkpoint_dir}")
    try:
        return fit(cfg, command=given.command_line())
    except ResumeError as err:  # another recipe's run there: kept, never trained over
        reason = str(err).split(";")[0]
        raise RunError(f"{cfg.checkpoint_dir} holds a run this one cannot reuse or go on with ({reason}); "
                       "move that folder away to train this run there.") from None  # fmt: skip


class RunError(PixelsenseError):
    """A run's folder holds another run, which is kept; the message says which and what to do."""


def train_runs(
    seeds: int, out_dir: str | Path, data_dir: str = "data", download: bool = True, log=print
) -> dict[str, list[dict]]:
    """Metrics of ``seeds`` runs (seeds 0..N-1) of each model, training only the runs not already done."""
    return {  # the ANN first: its runs are short, so partial results come early
        model: [train_run(model, seed, out_dir, data_dir, download, log=log) for seed in range(seeds)]
        for model in ARCHS
    }
