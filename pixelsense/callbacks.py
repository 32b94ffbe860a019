"""What fit.py adds to Lightning's Trainer: its callbacks and its profiler (its checkpoint writer is in
checkpoint_io.py)."""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.profilers import PassThroughProfiler

from pixelsense.checkpoint_io import in_background, wait_for_writes
from pixelsense.data import seed_of

REFRESH_SECONDS = 0.5  # the progress bar redraws at most this often


class ProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, redrawn every ``REFRESH_SECONDS`` instead of every step.

    Each redraw reads the logged values back from the device, a host sync that on a GPU costs more than a
    training step; a clock keeps the bar as lively on a slow CPU as on a fast GPU.
    """

    def __init__(self, seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.seconds = seconds
        self._drawn = 0.0

    def _should_update(self, current: int, total: int) -> bool:
        now = time.monotonic()
        if not self.is_enabled or (current != total and now - self._drawn < self.seconds):
            return False
        self._drawn = now
        return True


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, with its files written beside the training and its state key worked
    out once.

    Its saves and removals go through the writer's thread (``checkpoint_io.in_background``), in order; a
    file-name check first waits for the writes queued (so a name still being written counts as taken).
    Lightning names the callback in every hook call it makes (about 8 a training step), and the state key
    is rebuilt from a repr of the callback's settings each time, which never change after construction.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state_key = super().state_key

    @property
    def state_key(self) -> str:
        return self._state_key

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        with in_background():
            super()._save_checkpoint(trainer, filepath)

    def _remove_checkpoint(self, trainer, filepath: str) -> None:
        with in_background():
            super()._remove_checkpoint(trainer, filepath)

    def file_exists(self, filepath, trainer) -> bool:
        wait_for_writes(trainer)
        return super().file_exists(filepath, trainer)


class QuietProfiler(PassThroughProfiler):
    """Lightning's default no-op profiler, without the cost of doing nothing.

    Lightning wraps each of its hook calls, about 100 a training step, in ``profiler.profile(name)``; the
    default builds a generator-based context manager each time only to run two empty methods. This one
    hands back the same empty context every time.
    """

    _nothing = nullcontext()

    def profile(self, action_name: str) -> nullcontext:
        return self._nothing


class EpochSeed(Callback):
    """Seeds torch's generators at the start of every training epoch from (seed, epoch, rank) alone.

    The epoch's augmentation draws and dropout masks then depend on nothing that happened before it, so a
    run resumed from the last finished epoch, after a crash or a kill, trains exactly as if it had never
    stopped (the shuffle order is drawn from (seed, epoch) the same way, in ``data.EpochOrder``).
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        torch.manual_seed(seed_of("epoch", self.seed, trainer.current_epoch, trainer.global_rank))


class RunConfig(Callback):
    """The run's configuration, kept in every checkpoint, so that --resume can refuse settings that would
    make the resumed run another run."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def state_dict(self) -> dict:
        return {"config": self.config}


class Stopwatch(Callback):
    """Training time, carried in the checkpoint so that a resumed run reports the whole run's time."""

    def __init__(self) -> None:
        self.before = 0.0  # seconds spent by the runs this one resumed
        self._start: float | None = None

    @property
    def seconds(self) -> float:
        running = time.perf_counter() - self._start if self._start is not None else 0.0
        return self.before + running

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before = float(state_dict["seconds"])
