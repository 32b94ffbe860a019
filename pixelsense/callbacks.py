"""What fit.py adds to Lightning's Trainer: its callbacks and its profiler."""

from __future__ import annotations

import time
from contextlib import nullcontext

from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.profilers import PassThroughProfiler

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
    """Lightning's ModelCheckpoint, with its state key worked out once.

    Lightning names the callback in every hook call it makes (about 8 a training step), and this key is
    rebuilt from a repr of the callback's settings each time, which never change after construction.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._state_key = super().state_key

    @property
    def state_key(self) -> str:
        return self._state_key


class QuietProfiler(PassThroughProfiler):
    """Lightning's default no-op profiler, without the cost of doing nothing.

    Lightning wraps each of its hook calls, about 100 a training step, in ``profiler.profile(name)``; the
    default builds a generator-based context manager each time only to run two empty methods. This one
    hands back the same empty context every time.
    """

    _nothing = nullcontext()

    def profile(self, action_name: str) -> nullcontext:
        return self._nothing
