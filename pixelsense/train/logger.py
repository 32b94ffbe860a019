"""The TensorBoard logger of a run: Lightning's, showing what a reader needs, and saying which folder a
write failed in."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from pytorch_lightning.loggers import TensorBoardLogger

WRITER_THREAD = "_AsyncWriterThread"  # TensorBoard's event writer, which re-raises a failed write itself


class RunLogger(TensorBoardLogger):
    """``TensorBoardLogger(logdir, name=model)``, with two changes:

    - no ``epoch`` card: Lightning logs its epoch counter with every metric, and it would be TensorBoard's
      first card, a straight line no reader needs (the x axis is the step, and each card's epoch is there);
    - an OSError while writing (a full disk) names the run's log folder, so the one line fit.py prints
      says --logdir; TensorBoard's writer thread, whose error the next write raises here, prints nothing.
    """

    def __init__(self, logdir: str, model: str) -> None:
        super().__init__(logdir, name=model, default_hp_metric=False)
        _quiet_writer_thread()

    def log_metrics(self, metrics, step=None) -> None:
        with self._named():
            super().log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step)

    def log_hyperparams(self, params, metrics=None) -> None:
        with self._named():
            super().log_hyperparams(params, metrics)

    def save(self) -> None:
        with self._named():
            super().save()

    def finalize(self, status: str) -> None:
        with self._named():
            super().finalize(status)

    @contextmanager
    def _named(self):
        try:
            yield
        except OSError as err:  # fsspec and TensorBoard raise it without the file's name
            if err.filename is not None:
                raise
            raise OSError(err.errno, err.strerror or str(err), self.log_dir) from None


def _quiet_writer_thread() -> None:
    """Leave out the traceback Python prints when TensorBoard's writer thread fails (a full disk): the next
    write raises the same error in the main thread, which says it in one line."""
    if getattr(threading.excepthook, "pixelsense", False):
        return
    before = threading.excepthook

    def hook(args) -> None:
        if not (type(args.thread).__name__ == WRITER_THREAD and issubclass(args.exc_type, OSError)):
            before(args)

    hook.pixelsense = True
    threading.excepthook = hook
