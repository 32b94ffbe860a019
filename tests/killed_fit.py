"""fit.py's own entry point, SIGKILLed at a chosen moment, as a crash or the kernel's OOM killer would do it.

python tests/killed_fit.py step EPOCH N SIGNAL FIT_ARGS...   # SIGKILL (SIGTERM, SIGINT) after N steps of EPOCH
python tests/killed_fit.py write N FIT_ARGS...            # killed half-way through writing checkpoint N
python tests/killed_fit.py test FIT_ARGS...               # SIGKILLed as the training ends, before the test
python tests/killed_fit.py run FIT_ARGS...                # not killed at all (for runs as another user)

The data folder given by --data-dir is accepted as Fashion-MNIST whatever it holds (fake test data). With
SLOW_WRITES=S in the environment, every file write first waits S seconds (a slow disk).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from pytorch_lightning.callbacks import Callback

from pixelsense import cli
from pixelsense.train import run as train
from pixelsense.train import sources


def die(signum: int = signal.SIGKILL) -> None:
    os.kill(os.getpid(), signum)


class KillAfterStep(Callback):
    """Killed once ``steps`` optimizer steps of ``epoch`` are done, as the next one is about to update the
    weights: mid-way through a Lightning training step, which takes several (data.STEPS_PER_CALL). A SIGKILL
    waits until the checkpoints of the epochs before are on disk (checkpoint_io writes them beside the
    training, in milliseconds; a kill in those is the ``write`` mode's); SIGTERM and SIGINT do not: the fit's
    teardown must wait for them."""

    def __init__(self, epoch: int, steps: int, signum: int) -> None:
        self.epoch, self.steps, self.signum = epoch, steps, signum

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        done = trainer.global_step - trainer.current_epoch * trainer.train_dataloader.steps
        if trainer.current_epoch == self.epoch and done == self.steps:
            if self.signum == signal.SIGKILL:
                trainer.strategy.checkpoint_io.wait()
            die(self.signum)


class KillAtTest(Callback):
    def on_test_start(self, trainer, pl_module) -> None:
        die()


def kill_in_write(n: int) -> None:
    """The n-th checkpoint write (1-based) puts half the file on disk and is killed there."""
    real, calls = Path.write_bytes, []

    def write_bytes(self: Path, data) -> int:
        calls.append(self)
        if len(calls) < n:
            return real(self, data)
        with open(self, "wb") as out:
            out.write(bytes(data)[: len(data) // 2])
            out.flush()
            os.fsync(out.fileno())
        die()

    Path.write_bytes = write_bytes


def slow_writes(seconds: float) -> None:
    real = Path.write_bytes

    def write_bytes(self: Path, data) -> int:
        time.sleep(seconds)
        return real(self, data)

    Path.write_bytes = write_bytes


def accept_whatever_is_in(data_dir: str) -> None:
    raw = sources.raw_dir(data_dir)
    sources.SHA256 = {name: hashlib.sha256((raw / name).read_bytes()).hexdigest() for name in sources.SHA256}
    sources.SYSTEM_DIRS = []


def main(argv: list[str]) -> int:
    mode, argv = argv[0], argv[1:]
    if mode in ("step", "test"):
        if mode == "step":
            killer = KillAfterStep(int(argv[0]), int(argv[1]), signal.Signals[f"SIG{argv[2]}"])
            argv = argv[3:]
        else:
            killer = KillAtTest()
        make = train.make_trainer
        train.make_trainer = lambda cfg, logger, extra=(): make(cfg, logger, [*extra, killer])
    elif mode == "write":
        kill_in_write(int(argv[0]))
        argv = argv[1:]
    if "SLOW_WRITES" in os.environ:
        slow_writes(float(os.environ["SLOW_WRITES"]))
    accept_whatever_is_in(argv[argv.index("--data-dir") + 1])
    return cli.fit_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
