"""``bench.py train``: an epoch of fit.py's training (its Trainer, module, DataModule, callbacks and logger,
built exactly as fit.py builds them) against an epoch of a bare PyTorch loop over the same network and
data. Epochs alternate inside one run: a callback runs a bare epoch before each Lightning epoch."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from pixelsense.bench import device_name, seconds, sync
from pixelsense.bench.bare import BareLoop
from pixelsense.config import parse_config
from pixelsense.train import build, hardware, make_trainer

WARMUP = 1  # epochs of each side not counted


class Alternate(pl.Callback):
    """Times each Lightning epoch (training, validation, checkpoints, logging: everything up to the next
    epoch) and, before it, one epoch of the bare loop."""

    def __init__(self, bare: BareLoop, device: torch.device) -> None:
        self.bare, self.device = bare, device
        self.times: dict[str, list[float]] = {"pixelsense": [], "bare": []}
        self._start: float | None = None

    def _stop(self) -> None:
        if self._start is not None:
            sync(self.device)
            self.times["pixelsense"].append(time.perf_counter() - self._start)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()
        self.times["bare"].append(seconds(self.bare.epoch, self.device))
        self._start = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()


def measure(model: str, rounds: int, data_dir: str, download: bool) -> dict:
    """Median seconds per epoch of fit.py's training and of the bare loop for ``model``'s default recipe on
    this machine's device."""
    with tempfile.TemporaryDirectory(prefix="pixelsense-bench-") as work:
        cfg = parse_config(
            ["--model", model, "--epochs", str(rounds + WARMUP), "--data-dir", data_dir, "--no-export",
             "--checkpoint-dir", str(Path(work) / "checkpoints"), "--logdir", str(Path(work) / "runs"),
             "--download" if download else "--no-download"]
        )  # fmt: skip
        pl.seed_everything(cfg.seed, verbose=False)
        module, data = build(cfg)
        data.prepare_data()
        data.setup("fit")
        accelerator, precision = hardware(cfg)
        device = torch.device("cpu" if accelerator == "cpu" else "cuda")
        total = math.ceil(len(data.train_set) / cfg.batch_size) * cfg.epochs
        clock = Alternate(BareLoop(cfg, data.train_set, data.val_set, device, precision, total), device)
        logger = TensorBoardLogger(cfg.logdir, name=cfg.model, default_hp_metric=False)
        trainer, _ = make_trainer(cfg, logger, extra=[clock])
        trainer.fit(module, datamodule=data)
    median = {side: statistics.median(t[WARMUP:]) for side, t in clock.times.items()}
    return {
        "model": model, "recipe": cfg.recipe, "batch_size": cfg.batch_size, "device": device_name(device),
        "precision": precision, "rounds": rounds, **median, "ratio": median["pixelsense"] / median["bare"],
    }  # fmt: skip


def table(results: list[dict]) -> str:
    lines = [f"{'model':<6} {'recipe':<7} {'batch':>5} {'fit.py s/epoch':>15} {'bare loop s/epoch':>18} "
             f"{'ratio':>6}"]  # fmt: skip
    lines += [
        f"{r['model']:<6} {r['recipe']:<7} {r['batch_size']:>5} {r['pixelsense']:>15.3f} {r['bare']:>18.3f} "
        f"{r['ratio']:>6.2f}"
        for r in results
    ]
    return "\n".join(lines)
