"""The server's processes: one, or several on the one port (SO_REUSEPORT: the kernel spreads connections over
them), each a core's worth of Python; a request's HTTP and form parsing, not its inference, is what fills a
core. The first process supervises the others: it stops them all, the requests in flight answered."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from multiprocessing.connection import wait

import uvicorn

from pixelsense import signals
from pixelsense.errors import PixelsenseError
from pixelsense.serve.app import create_app
from pixelsense.serve.models import Served, open_models

QUIET = {"log_level": "warning", "timeout_graceful_shutdown": 30}  # errors only; 30 s for the last requests
STARTING = 120  # seconds a worker may take to open its models and listen


def listening(host: str, port: int, shared: bool = False) -> socket.socket:
    """A TCP socket listening on (host, port); ``shared``: beside the other workers' (SO_REUSEPORT). OSError
    where it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, as getaddrinfo would: asyncio sets TCP_NODELAY only then, and without it a kept-alive
    # client waits 40 ms a response for its delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve(models: list[Served], sock: socket.socket, threads: int) -> None:
    """One process serving ``models`` on ``sock`` until SIGINT or SIGTERM, its requests in flight answered
    (uvicorn raises the signal again afterwards, for the caller's handler)."""
    uvicorn.Server(uvicorn.Config(create_app(models, threads), **QUIET)).run(sockets=[sock])


def start_workers(paths: list[str], host: str, port: int, count: int, threads: int) -> list:
    """``count`` worker processes serving on (host, port), each with its own models, listening when this
    returns; PixelsenseError where one cannot start."""
    spawn = multiprocessing.get_context("spawn")  # no fork: onnxruntime's threads do not survive one
    ready, told = spawn.Pipe(duplex=False)
    workers = [spawn.Process(target=_worker, args=(paths, host, port, threads, told, os.getpid()),
                               daemon=True)
               for _ in range(count)]  # fmt: skip
    for worker in workers:
        worker.start()
    told.close()
    for _ in workers:
        if not ready.poll(STARTING):
            stop_workers(workers)
            raise PixelsenseError(f"a server process did not start in {STARTING} s; see its message above.")
        if (problem := ready.recv()) is not None:
            stop_workers(workers)
            raise PixelsenseError(problem)
    return workers


def _worker(paths: list[str], host: str, port: int, threads: int, ready, parent: int) -> None:
    os.setpgrp()  # Ctrl-C reaches the supervisor alone, which stops each worker once
    # A supervisor killed (SIGKILL) cannot stop its workers: each stops itself, as on SIGTERM.
    signals.when_orphaned(parent, lambda: os.kill(os.getpid(), signal.SIGTERM))
    try:
        sock, models = listening(host, port, shared=True), open_models(paths)
    except (OSError, PixelsenseError) as err:
        ready.send(f"a server process cannot start: {err}")
        return
    ready.send(None)
    ready.close()
    serve(models, sock, threads)


def watch(workers: list) -> None:
    """Wait while every worker serves; PixelsenseError when one stops by itself."""
    gone = wait([worker.sentinel for worker in workers])
    code = next(worker.exitcode for worker in workers if worker.sentinel in gone)
    if code is not None and code < 0:  # a signal from outside (kill, the OOM killer)
        how = f"was killed by {signal.Signals(-code).name}"
    else:
        how = f"stopped by itself (exit code {code}); see its message above"
    raise PixelsenseError(f"a server process {how}, so the others are stopped too; start serve.py again.")


def stop_workers(workers: list) -> None:
    """SIGTERM to each worker once: it answers the requests in flight, then exits."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(QUIET["timeout_graceful_shutdown"] + 5)
