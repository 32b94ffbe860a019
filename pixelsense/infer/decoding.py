"""Image files decoded and converted in a pool of processes, in order and with bounded memory: the rows come
out as they would from one process (the same function does the work), whatever the number of workers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout  # TimeoutError itself from Python 3.11
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pixelsense import signals
from pixelsense.formats import kind_of
from pixelsense.infer import engine
from pixelsense.infer.chunk import Chunk
from pixelsense.infer.images import read_images
from pixelsense.paths import Failure

TASK = 64  # images per task a worker takes: enough to pay for per-call costs (numpy, the pool), few to share
AHEAD = 2  # tasks queued per worker: what is decoded but not yet predicted stays under workers × AHEAD × TASK
WATCH = 0.5  # seconds between a worker's checks that its main process is alive
DIED = ("a decoding worker died while this file or one near it was read or predicted (out of memory, or a "
        "crash in the image decoder or onnxruntime); try it alone with --workers 1")  # fmt: skip


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system says)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Decoder:
    """``decoder(files)`` yields the files' Chunks and Failures, in order; after ``start()``, a
    pool of ``workers`` processes does the work. Use it as a context manager: leaving it (Ctrl-C included)
    stops the pool."""

    def __init__(self, invert: str, workers: int, model: str | None = None):
        """``model``: an ONNX model the workers also run on what they decode (``engine.predict_in_worker``),
        so that this process only writes rows."""
        self.invert, self.workers, self.model = invert, workers, model
        self._pool: ProcessPoolExecutor | None = None
        self._ahead: deque[tuple[list[str], Future]] = deque()  # tasks start() sent, in order

    def __enter__(self) -> Decoder:
        return self

    def start(self, items: list[Path | Failure]) -> None:
        """Start the pool if the image files among ``items`` (an inference run's inputs, in order) are
        worth one, and send it the first of them. Call it before this process starts threads (onnxruntime,
        the progress bar): the workers are forked from it, so they need no start-up of their own and never
        re-run the calling script, and a fork copies no thread of another library's."""
        image = [_is_image(item) for item in items]
        if self.workers <= 1 or sum(image) <= TASK or self._pool is not None:
            return
        # What a worker needs is imported once here, not again in each (a tenth of a second of a core each).
        # onnxruntime is only imported (one idle thread of its own, no session, no thread pool): the workers
        # open their sessions after the fork, as onnxruntime requires.
        import PIL.Image  # noqa: F401

        if self.model:
            import onnxruntime  # noqa: F401
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with signals.deferred():  # a Ctrl-C in a fork's hooks would be lost: it is taken after them
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_worker_start,
                initargs=(os.getpid(), self.model),
            )
            self._pool.submit(int)  # with fork, every worker is forked now, in this call
        begin = image.index(True)  # the run of image files ``__call__`` gets first: its first tasks go now
        end = next((i for i in range(begin, len(image)) if not image[i]), len(image))
        if end - begin > TASK:
            for task in _tasks([str(path) for path in items[begin:end]])[: self.workers * AHEAD]:
                self._ahead.append((task, self._pool.submit(_task, task, self.invert, self.model)))

    def __exit__(self, *exc) -> None:
        self._stop()

    def __call__(self, files: list[Path]) -> Iterator[Chunk | Failure]:
        paths = [str(path) for path in files]
        if self._pool is None or len(paths) <= TASK:  # no pool, or one that would cost more than it saves
            for start in range(0, len(paths), TASK):
                yield from read_images(paths[start : start + TASK], self.invert)
            return
        tasks = deque(_tasks(paths))
        pending: deque[tuple[list[str], Future]] = deque()
        while self._ahead and tasks and self._ahead[0][0] == tasks[0]:  # sent by start()
            pending.append(self._ahead.popleft())
            tasks.popleft()
        self._ahead.clear()
        while tasks or pending:
            while self._pool is not None and tasks and len(pending) < self.workers * AHEAD:
                try:
                    pending.append((tasks[0], self._pool.submit(_task, tasks[0], self.invert, self.model)))
                    tasks.popleft()
                except BrokenProcessPool:  # found broken on the way in: that task was never sent
                    self._stop()
            if not pending:  # the pool broke: the rest is read here (a new pool would fork these threads)
                yield from read_images(tasks.popleft(), self.invert)
                continue
            task, future = pending.popleft()
            try:
                results = self._result(future)
            except BrokenProcessPool:  # a worker was killed: the tasks queued to the pool are lost
                self._stop()
                yield from (Failure(path, DIED) for path in task)
                continue
            yield from results

    def _result(self, future: Future) -> list[Chunk | Failure]:
        """A task's results. A worker that dies half-way through sending a result leaves the pool's thread
        waiting for the rest (another worker holds the pipe open), never to find the pool broken: a dead
        worker seen from here says so instead. Workers end only when the pool does, so a dead one crashed."""
        while True:
            try:
                return future.result(timeout=WATCH)
            except FutureTimeout:
                try:
                    workers = tuple((getattr(self._pool, "_processes", None) or {}).values())
                except RuntimeError:  # the pool's thread changed them meanwhile: look again next time
                    continue
                if any(worker.exitcode is not None for worker in workers):
                    raise BrokenProcessPool("a decoding worker died") from None

    def _stop(self) -> None:
        """Cancel what is queued and end the workers now (what they are decoding is not wanted)."""
        if self._pool is None:
            return
        with signals.deferred():  # a Ctrl-C halfway would leave workers to join at exit, stuck on a lock
            self._end(self._pool)
            self._pool = None

    def _end(self, pool: ProcessPoolExecutor) -> None:
        self._ahead.clear()
        workers = list((getattr(pool, "_processes", None) or {}).values())
        for worker in workers:
            worker.kill()  # SIGTERM is ignored by workers
        for worker in workers:
            worker.join()
        # A worker killed half-way through sending a result (a task's is larger than a pipe's buffer) leaves
        # the pool's thread waiting in recv() for the rest of it: the read ends (EOF) only once no process
        # holds the pipe's write end, and this one holds one too, though only workers write there.
        results = getattr(getattr(pool, "_result_queue", None), "_writer", None)
        if results is not None:
            results.close()
        pool.shutdown(wait=True, cancel_futures=True)  # its thread sees the workers gone, and ends


def _is_image(item: Path | Failure) -> bool:
    return isinstance(item, Path) and kind_of(item) == "image"


def _tasks(paths: list[str]) -> list[list[str]]:
    return [paths[start : start + TASK] for start in range(0, len(paths), TASK)]


def _task(paths: list[str], invert: str, model: str | None) -> list[Chunk | Failure]:
    """What a worker does with its share of a folder: ``read_images``, and predicts them with ``model``."""
    items = read_images(paths, invert)
    return engine.predict_in_worker(items, model) if model else items


def _worker_start(parent: int, model: str | None) -> None:
    """Ctrl-C and SIGTERM are for the main process, which stops the pool: a worker says nothing. A worker
    whose main process ``parent`` is gone (killed: it could not stop the pool), even before this worker
    started, ends within WATCH seconds. Its onnxruntime session opens now, while the main process opens
    its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signals.when_orphaned(parent, lambda: os._exit(1), WATCH)
    if model:
        engine.worker_session(model)
