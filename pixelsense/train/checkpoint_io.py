"""fit.py's checkpoint writer: whole-or-nothing files, written beside the training instead of in its way."""

from __future__ import annotations

import copy
import io
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from pixelsense.files import atomic_path

MAX_PENDING = 2  # checkpoint copies waiting for the writer at most (fit.py makes two an epoch)
_in_background: ContextVar[bool] = ContextVar("pixelsense_background_checkpoints", default=False)


@contextmanager
def in_background() -> Iterator[None]:
    """Checkpoints saved and removed in this block go through the writer's thread (``CheckpointWriter``);
    fit.py's checkpoint callback saves in it. Every other save, a user's ``trainer.save_checkpoint`` included,
    is on disk when it returns, and its error is raised there."""
    token = _in_background.set(True)
    try:
        yield
    finally:
        _in_background.reset(token)


class CheckpointWriter(TorchCheckpointIO):
    """Lightning's checkpoint writer, made whole-or-nothing, and taken off the training's path for the
    checkpoints of fit.py's callback.

    Whole or nothing: each checkpoint is serialised, written to a temporary file beside its target, synced
    and renamed over it, so a kill or a full disk mid-write never leaves a truncated file under a real name;
    ``last.ckpt`` always loads.

    Off the path (saves ``in_background``): the training's thread only takes a snapshot (a copy of every
    tensor, on its device) and goes on; one writer thread serialises and writes, in order. A removal (the
    previous best checkpoint) waits in the same queue, so the old file goes only once the new one is whole
    on disk. After a failed write nothing more is written or removed, and the error is raised in the
    training's thread at its next checkpoint or the end of the fit (not over another error already on its
    way out). Any other save or removal, and every load, first waits for the queue.

    A kill loses at most the checkpoints being written (the run resumes from the ones before); Ctrl-C and
    SIGTERM end the fit through Lightning's teardown, which waits for the queue.
    """

    def __init__(self) -> None:
        super().__init__()
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: deque[tuple[Future, bool]] = deque()  # (job, whether a write), oldest first
        self._failed: BaseException | None = None  # stays until teardown: nothing more is written or removed
        self._reported = False  # whether the training's thread has raised it

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if not _in_background.get():
            self.wait()
            self._raise_failure()
            _write(checkpoint, path)
            return
        self._raise_failure()
        while self._pending_writes() >= MAX_PENDING:  # bounded memory: each holds a copy of the state
            self._jobs.popleft()[0].result()
        copied = snapshot(checkpoint)
        self._queue(_write, copied, path, _recorded())

    def remove_checkpoint(self, path) -> None:
        if _in_background.get():
            self._queue(super().remove_checkpoint, path)
            return
        self.wait()
        self._raise_failure()
        super().remove_checkpoint(path)

    def load_checkpoint(self, path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.wait()
        return super().load_checkpoint(path, *args, **kwargs)

    def wait(self) -> None:
        """Until every job queued so far is done."""
        while self._jobs:
            self._jobs.popleft()[0].result()

    def teardown(self) -> None:
        """The end of a fit or test: wait for the queue, stop the thread, raise a failed write not raised
        yet, unless another error is already on its way out (Lightning tears down on errors too). The writer
        starts afresh for the next fit."""
        self.wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        failed, reported = self._failed, self._reported
        self._failed, self._reported = None, False
        if failed is not None and not reported and sys.exc_info()[1] is None:
            raise failed

    def _queue(self, job: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            if self._failed is None:  # after a failure, no removal of a file its failed successor replaced
                try:
                    job(*args)
                except BaseException as err:  # raised in the training's thread by _raise_failure
                    self._failed = err.with_traceback(None)  # its frames would keep the snapshot alive

        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixelsense-checkpoints")
        self._jobs.append((self._executor.submit(run), job is _write))

    def _pending_writes(self) -> int:
        while self._jobs and self._jobs[0][0].done():
            self._jobs.popleft()
        return sum(write for _, write in self._jobs)

    def _raise_failure(self) -> None:
        if self._failed is not None:
            self._reported = True
            raise self._failed


def wait_for_writes(trainer) -> None:
    """Until the checkpoints queued by ``trainer``'s writer are on disk (nothing to wait for with another
    writer)."""
    writer = trainer.strategy.checkpoint_io
    if isinstance(writer, CheckpointWriter):
        writer.wait()


def _write(checkpoint: dict[str, Any], path, ready: torch.cuda.Event | None = None) -> None:
    if ready is not None:
        ready.synchronize()  # the snapshot's copies, queued on the caller's stream, are done
    buffer = io.BytesIO()  # serialised first: a full disk is then an OSError naming ``path``
    torch.save(checkpoint, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _recorded() -> torch.cuda.Event | None:
    """An event recorded on the current CUDA stream, behind the snapshot's copies (the writer's thread
    reads them from its own stream); None in a process that has not used CUDA."""
    if not torch.cuda.is_initialized():
        return None
    event = torch.cuda.Event()
    event.record()
    return event


def snapshot(value: Any) -> Any:
    """``value`` with every tensor in it copied (on its own device) and every dict, list and tuple rebuilt
    around the copies, so that training can change the originals while the copy is written. A dict keeps
    its type and attributes (a state_dict's ``_metadata``), a named tuple its type."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        out = copy.copy(value)
        for key, item in value.items():
            out[key] = snapshot(item)
        return out
    if isinstance(value, list):
        return [snapshot(item) for item in value]
    if isinstance(value, tuple):
        items = [snapshot(item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value
