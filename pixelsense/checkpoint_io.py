"""fit.py's checkpoint writer: whole-or-nothing files, written beside the training instead of in its way."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from pixelsense.files import atomic_path


class CheckpointWriter(TorchCheckpointIO):
    """Lightning's checkpoint writer, made whole-or-nothing and taken off the training's path.

    Whole or nothing: each checkpoint is serialised, written to a temporary file beside its target, synced
    and renamed over it, so a kill or a full disk mid-write never leaves a truncated file under a real name;
    ``last.ckpt`` always loads.

    Off the path: the training's thread only takes a snapshot (a copy of every tensor, on its device) and
    goes on; one writer thread serialises and writes, in order. On a GPU the ANN's epoch takes about 0.15 s,
    and writing its two checkpoints took 17 ms of it. A removal (the previous best checkpoint) waits in the
    same queue, so the old file goes only once the new one is whole on disk. After a failed write nothing
    more is written or removed, and the error is raised in the training's thread at the next checkpoint,
    load, or the end of the fit. A load first waits for the writes queued before it.

    A kill loses at most the checkpoint being written (the run resumes from the one before); Ctrl-C and
    SIGTERM end the fit through Lightning's teardown, which waits for the queue.
    """

    def __init__(self) -> None:
        super().__init__()
        self._executor: ThreadPoolExecutor | None = None
        self._queued: Future | None = None  # the last job queued; the single thread runs them in order
        self._failed: BaseException | None = None  # stays until teardown: nothing more is written or removed
        self._reported = False  # whether the training's thread has raised it

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        self._raise_failure()
        self._queue(_write, snapshot(checkpoint), path)

    def remove_checkpoint(self, path) -> None:
        self._queue(super().remove_checkpoint, path)

    def load_checkpoint(self, path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.wait()
        self._raise_failure()
        return super().load_checkpoint(path, *args, **kwargs)

    def wait(self) -> None:
        """Until every job queued so far is done."""
        if self._queued is not None:
            self._queued.result()

    def teardown(self) -> None:
        """The end of a fit or test: wait for the queue, stop the thread, raise a failed write not raised
        yet. The writer starts afresh for the next fit."""
        self.wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = self._queued = None
        failed, reported = self._failed, self._reported
        self._failed, self._reported = None, False
        if failed is not None and not reported:
            raise failed

    def _queue(self, job: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            if self._failed is None:  # after a failure, no removal of a file its failed successor replaced
                try:
                    job(*args)
                except BaseException as err:  # raised in the training's thread by _raise_failure
                    self._failed = err

        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixelsense-checkpoints")
        self._queued = self._executor.submit(run)

    def _raise_failure(self) -> None:
        if self._failed is not None:
            self._reported = True
            raise self._failed


def _write(checkpoint: dict[str, Any], path) -> None:
    buffer = io.BytesIO()  # serialised first: a full disk is then an OSError naming ``path``
    torch.save(checkpoint, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def snapshot(value: Any) -> Any:
    """``value`` with every tensor in it copied (on its own device) and every dict, list and tuple rebuilt
    around the copies, so that training can change the originals while the copy is written. A dict keeps
    its type and attributes (a state_dict's ``_metadata``)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        out = copy.copy(value)
        for key, item in value.items():
            out[key] = snapshot(item)
        return out
    if isinstance(value, list):
        return [snapshot(item) for item in value]
    if type(value) is tuple:
        return tuple(snapshot(item) for item in value)
    return value
