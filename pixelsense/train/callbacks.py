"""What fit.py adds to Lightning's Trainer: its callbacks and its profiler (its checkpoint writer is in
checkpoint_io.py)."""

from __future__ import annotations

import os
import re
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.profilers import PassThroughProfiler

from pixelsense.train.checkpoint_io import in_background, wait_for_writes
from pixelsense.train.data import seed_of

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

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A run folder that was moved keeps what it knew: its paths are taken to this folder. Lightning
        would keep only the old best path, and forget its score. Moved means the old folder is gone and its
        best checkpoint is here; a run continued into another folder (the old one still there) is left to
        Lightning, which starts that folder's own best."""
        old, best = state_dict.get("dirpath"), state_dict.get("best_model_path")
        if old and self.dirpath and os.path.realpath(old) != os.path.realpath(self.dirpath):
            moved = _moved(state_dict, old, self.dirpath)
            if not os.path.exists(old) and (not best or os.path.isfile(moved["best_model_path"])):
                state_dict = moved
        super().load_state_dict(state_dict)

    def on_train_start(self, trainer, pl_module) -> None:
        """Resuming (the loops restored, so the epoch is known): a best checkpoint that this state does not
        know was written by the epoch that a kill cut short before its ``last.ckpt``. That epoch is trained
        again, so the file is removed rather than left as a second "best" beside the new one (or under
        ``-v1``); but only a file this run provably wrote: the exact name this callback gives that epoch,
        holding the configuration of the run resumed. Anything else in the folder (a user's copy of a best,
        another run's) is left as it is."""
        resumed = trainer.ckpt_path is not None and trainer.is_global_zero
        if not resumed or self.monitor is None or not self.dirpath or not self.filename:
            return
        if self.best_model_path and not os.path.exists(self.best_model_path):
            return  # killed after the old best was removed: the unknown one is the best there is, kept
        run = next((c.resumed for c in trainer.callbacks if isinstance(c, RunConfig)), None)
        known = {Path(p).name for p in (*self.best_k_models, self.best_model_path) if p}
        named = self._name_of_epoch(trainer.current_epoch)
        for path in Path(self.dirpath).iterdir():
            if path.name not in known and named.fullmatch(path.name) and _written_by(path, run):
                path.unlink(missing_ok=True)

    def _name_of_epoch(self, epoch: int) -> re.Pattern:
        """The names this callback gives a checkpoint of ``epoch``, whatever its metrics: its ``filename``
        with the epoch filled in and every other field a number."""
        parts = re.split(r"(\{[^}]*\})", self.filename)
        pattern = "".join(
            re.escape(format(epoch, part[1:-1].partition(":")[2])) if part[1:-1].partition(":")[0] == "epoch"
            else r"[-+0-9.eE]+" if part.startswith("{") else re.escape(part)
            for part in parts
        )  # fmt: skip
        return re.compile(pattern + re.escape(self.FILE_EXTENSION))


def _written_by(path: Path, run: dict | None) -> bool:
    """Whether the checkpoint at ``path`` holds the run configuration ``run`` (None: no run to prove it)."""
    if run is None:
        return False
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return state["callbacks"]["RunConfig"]["config"] == run
    except Exception:  # not a checkpoint, not ours, unreadable: not provably this run's
        return False


def _moved(state: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """ModelCheckpoint's state with the paths under ``old`` moved under ``new``."""

    def there(path):
        return os.path.join(new, os.path.relpath(path, old)) if isinstance(path, str) and path else path

    paths = ("best_model_path", "kth_best_model_path", "last_model_path")
    moved = {**state, "dirpath": new, **{key: there(state.get(key)) for key in paths if key in state}}
    moved["best_k_models"] = {there(path): score for path, score in state.get("best_k_models", {}).items()}
    return moved


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
        self.resumed: dict | None = None  # the configuration of the run this one resumes

    def state_dict(self) -> dict:
        return {"config": self.config}

    def load_state_dict(self, state_dict: dict) -> None:
        self.resumed = state_dict.get("config")


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
