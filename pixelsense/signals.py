"""Ctrl-C and SIGTERM end a command with one line and exit 130, after its ``finally`` blocks have removed
whatever it had half-written."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STOPPED = 130  # the exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report)
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(BaseException):
    """Raised in the main thread by Ctrl-C or SIGTERM. A BaseException, like KeyboardInterrupt, so no
    ``except Exception`` swallows it; not a KeyboardInterrupt, so Lightning re-raises it instead of
    printing its own message and exiting 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []  # the signal that stopped the command, if one did


def _stop(signum: int, frame) -> None:
    for each in SIGNALS:  # a second Ctrl-C must not interrupt the clean-up the first one started
        signal.signal(each, signal.SIG_IGN)
    if _done[0]:  # the body has returned: what it did stands, and its handlers are being put back
        return
    _received[:] = [signum]
    if _deferring[0]:  # raised when the block ends (``deferred``)
        return
    raise Stopped(signum)


AGAIN = 0.01  # seconds after a lost Stop before its signal is sent again (``_unraisable``)
_deferring = [False]  # inside ``deferred``: a signal is noted, and raised when the block ends
_done = [False]  # whether the running body has returned (set with no call between: no signal can land)


_left: list[str | Callable[[], str]] = []  # what a stop now leaves the user with, said by the command


def if_stopped(left: str | Callable[[], str]) -> None:
    """Say what a stop from now on leaves the user with (or a function that says it, then)."""
    _left[:] = [left]


def stoppable(script: str, main: Callable[[], int], left: str = "nothing was half-written") -> int:
    """Run ``main`` (a command's body, returning its exit code) so that a signal ends it with one line on
    stderr and exit 130, saying what the user is left with (``left``, or what the body said since with
    ``if_stopped``). In a command line's own process (``early`` ran), a signal after the body is done, while
    the interpreter shuts down, ends it at once with the body's exit code: what it wrote is whole."""
    _left[:], _received[:], _done[0] = [left], [], False
    before = {each: signal.signal(each, _stop) for each in SIGNALS}
    hook, sys.unraisablehook = sys.unraisablehook, _unraisable(sys.unraisablehook)
    code = None
    try:
        code = main()
        _done[0] = True
    except (Stopped, KeyboardInterrupt, Exception) as err:
        # A signal that lands inside a C extension (onnxruntime's import) can come out as its own error.
        if not isinstance(err, Stopped | KeyboardInterrupt) and not _received:
            raise
        name = signal.Signals(_received[0]).name if _received else "SIGINT"
        said = _left[0]
        print(f"\n{script}: stopped by {name}; {said() if callable(said) else said}.", file=sys.stderr)
        code = STOPPED
    finally:
        _done[0] = True  # a signal from here on stops nothing: the handlers are put back
        sys.unraisablehook = hook
        for each, handler in before.items():
            # In a command line's process, once the body is done: a handler that exits at once with its code.
            done = handler is _early and code is not None
            signal.signal(each, _exiting(code) if done else handler)
    return code


def _unraisable(before: Callable) -> Callable:
    """sys.unraisablehook while a command runs: a Stop raised where Python ignores exceptions (a weakref's
    callback, os.fork's after-fork hooks) would be printed as "Exception ignored" and lost, the command
    going on with the signals ignored. It is delivered again instead, to land where it stops the command:
    from a thread, a moment later, since a signal sent here would be handled here, and ignored again."""

    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, Stopped) or _done[0]:
            before(unraisable)
            return
        for each in SIGNALS:
            signal.signal(each, _stop)
        again = threading.Timer(AGAIN, os.kill, (os.getpid(), unraisable.exc_value.signum))
        again.daemon = True
        again.start()

    return hook


def early() -> None:
    """Where this process is a pixelsense command line (not pytest, not a notebook that imports the
    package): from now until the command's own handling starts, a signal is one line and exit 130, not a
    KeyboardInterrupt traceback or a silent 143. Called first thing by ``pixelsense.cli``, before the
    commands' imports."""
    if command_line() is None or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    if "--multiprocessing-fork" in getattr(sys, "orig_argv", ()):  # a spawned worker (it has the parent's
        return  # argv): its parent says what a signal did, and the worker handles its own
    for each in SIGNALS:
        signal.signal(each, _early)
    # The last of the exit handlers (they run last registered first): from here on the interpreter frees
    # itself in C, where Python resets a handler to the default and a signal would kill it (exit -2, no
    # line) with its work done. Ignored there, the exit code stays the command's.
    atexit.register(_ignore)


def _ignore() -> None:
    for each in SIGNALS:
        signal.signal(each, signal.SIG_IGN)


def command_line() -> str | None:
    """The command this process runs, as its messages name it (``get_data.py`` for ``pixelsense-get-data``
    and ``scripts/get_data.py``), or None where ``sys.argv[0]`` names no pixelsense command."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    stem = name.removeprefix("pixelsense-").removesuffix(".py").replace("-", "_")
    ours = name.startswith("pixelsense-") or name.endswith(".py")
    return f"{stem}.py" if ours and stem in COMMANDS else None


COMMANDS = {
    "bench",
    "compare",
    "evaluate",
    "explain",
    "export",
    "fit",
    "get_data",
    "photos",
    "predict",
    "serve",
}  # fmt: skip (scripts/*.py and the pixelsense-* console scripts of pyproject.toml)


def _early(signum: int, frame) -> None:
    _exit_now(f"\n{command_line()}: stopped by {signal.Signals(signum).name}; nothing was done.", STOPPED)


def _exiting(code: int) -> Callable:
    """A handler for a signal that comes after the command's body is done: exit at once with its code."""
    return lambda signum, frame: _exit_now(None, code)


def _exit_now(line: str | None, code: int) -> None:
    """End the process now (no clean-up is left to do), after the streams are flushed and ``line`` said."""
    try:
        if line:
            print(line, file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe, a closed stream: nothing more can be said
        pass
    os._exit(code)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM back for the block (forking a pool): one that lands inside ``os.fork``'s
    after-fork hooks is printed as "Exception ignored" and lost, and the command goes on. It is raised
    when the block ends. (Noted by the handler, not masked: Python runs handlers in the main thread
    whichever thread the signal reached.)"""
    _deferring[0] = True
    try:
        yield
    finally:
        _deferring[0] = False
        if _received and not _done[0]:
            raise Stopped(_received[0])


def when_orphaned(parent: int, then: Callable[[], None], every: float = 0.5) -> None:
    """Call ``then`` (in a daemon thread) once this process's parent ``parent`` is gone (killed, so it could
    not stop this one), even if it was gone before this started: a worker must not outlive its command."""

    def watch() -> None:
        while os.getppid() == parent:  # once the parent dies, the process is someone else's child
            time.sleep(every)
        then()

    threading.Thread(target=watch, daemon=True, name="pixelsense-orphan-watch").start()
