"""``bench.py train``: an epoch of fit.py's training (its Trainer, module, DataModule, callbacks and logger,
built exactly as fit.py builds them) against an epoch of a bare PyTorch loop over the same network and
data. Epochs alternate inside one run: a callback runs a bare epoch inside each Lightning epoch's end, before
the checkpoints are saved."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from pixelsense.bench import device_name, seconds, sync
from pixelsense.bench.bare import BareLoop
from pixelsense.train.config import FitConfig
from pixelsense.train.hardware import hardware
from pixelsense.train.logger import RunLogger
from pixelsense.train.run import build, make_trainer

WARMUP = 1  # epochs of each side not counted
PHASES = ("training", "validation", "epoch end")


class Alternate(pl.Callback):
    """Times each Lightning epoch in its phases: training, validation, and the epoch's end (the epoch's
    logging and checkpoints: everything up to the next epoch); and, inside its end, before the checkpoints
    (Lightning calls this callback's ``on_train_epoch_end`` before ModelCheckpoint's), one epoch of the bare
    loop, timed apart. The checkpoints that fit.py writes beside the training then overlap fit.py's own next
    epoch, as in a real run, not the bare loop's."""

    def __init__(self, bare: BareLoop, device: torch.device) -> None:
        self.bare, self.device = bare, device
        self.phases: dict[str, dict[str, list[float]]] = {
            "pixelsense": {phase: [] for phase in PHASES}, "bare": {phase: [] for phase in PHASES[:2]},
        }  # fmt: skip
        self._mark: float | None = None  # when the running phase of fit.py's epoch began
        self._before_bare = 0.0  # the part of fit.py's epoch end before the bare epoch

    def _lap(self) -> float:
        sync(self.device)
        now = time.perf_counter()
        lap, self._mark = now - self._mark, now
        return lap

    def _end_epoch(self) -> None:
        if self._mark is not None:
            self.phases["pixelsense"]["epoch end"].append(self._before_bare + self._lap())
            self._mark = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end_epoch()
        sync(self.device)
        self._mark = time.perf_counter()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.phases["pixelsense"]["training"].append(self._lap())

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.phases["pixelsense"]["validation"].append(self._lap())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_bare = self._lap()
        self.phases["bare"]["training"].append(seconds(self.bare.train_epoch, self.device))
        self.phases["bare"]["validation"].append(seconds(self.bare.validate, self.device))
        self._mark = time.perf_counter()  # fit.py's clock goes on from here

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end_epoch()

    def epochs(self, side: str) -> list[float]:
        """Seconds of each of ``side``'s epochs: the sum of its phases."""
        return [sum(parts) for parts in zip(*self.phases[side].values(), strict=True)]


def measure(model: str, rounds: int, data_dir: str, download: bool) -> dict:
    """Median seconds per epoch of fit.py's training and of the bare loop for ``model``'s default recipe on
    this machine's device."""
    with tempfile.TemporaryDirectory(prefix="pixelsense-bench-") as work:
        cfg = FitConfig(
            model=model, epochs=rounds + WARMUP, data_dir=data_dir, download=download, export=False,
            checkpoint_dir=str(Path(work) / "checkpoints"), logdir=str(Path(work) / "runs"),
        ).resolved()  # fmt: skip
        pl.seed_everything(cfg.seed, verbose=False)
        module, data = build(cfg)
        data.prepare_data()
        data.setup("fit")
        accelerator, precision = hardware(cfg.accelerator, cfg.precision)
        device = torch.device("cpu" if accelerator == "cpu" else "cuda")
        total = math.ceil(len(data.train_set) / cfg.batch_size) * cfg.epochs
        clock = Alternate(BareLoop(cfg, data.train_set, data.val_set, device, precision, total), device)
        logger = RunLogger(cfg.logdir, cfg.model)
        trainer, _ = make_trainer(cfg, logger, extra=[clock])
        trainer.fit(module, datamodule=data)
    median = {side: statistics.median(clock.epochs(side)[WARMUP:]) for side in clock.phases}
    phases = {side: {name: statistics.median(t[WARMUP:]) for name, t in parts.items()}
              for side, parts in clock.phases.items()}  # fmt: skip
    return {
        "model": model, "recipe": cfg.recipe, "batch_size": cfg.batch_size, "device": device_name(device),
        "precision": precision, "rounds": rounds, **median, "ratio": median["pixelsense"] / median["bare"],
        "phases": phases,
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


def phase_table(results: list[dict]) -> str:
    """Where each side's epoch goes: the median milliseconds of each phase."""
    lines = [f"{'model':<6} {'side':<10} " + " ".join(f"{name + ' ms':>14}" for name in PHASES)]
    for r in results:
        for side, label in (("pixelsense", "fit.py"), ("bare", "bare loop")):
            cells = [r["phases"][side].get(name) for name in PHASES]
            shown = " ".join(f"{1000 * c:>14.1f}" if c is not None else f"{'-':>14}" for c in cells)
            lines.append(f"{r['model']:<6} {label:<10} {shown}")
    return "\n".join(lines)
