"""Ctrl-C and SIGTERM end a command with one line and exit 130, after its ``finally`` blocks have removed
whatever it had half-written."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

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
    _received[:] = [signum]
    raise Stopped(signum)


_left: list[str | Callable[[], str]] = []  # what a stop now leaves the user with, said by the command


def if_stopped(left: str | Callable[[], str]) -> None:
    """Say what a stop from now on leaves the user with (or a function that says it, then)."""
    _left[:] = [left]


def stoppable(script: str, main: Callable[[], int], left: str = "nothing was half-written") -> int:
    """Run ``main`` (a command's body, returning its exit code) so that a signal ends it with one line on
    stderr and exit 130, saying what the user is left with (``left``, or what the body said since with
    ``if_stopped``)."""
    _left[:], _received[:] = [left], []
    before = {each: signal.signal(each, _stop) for each in SIGNALS}
    try:
        return main()
    except (Stopped, KeyboardInterrupt, Exception) as err:
        # A signal that lands inside a C extension (onnxruntime's import) can come out as its own error.
        if not isinstance(err, Stopped | KeyboardInterrupt) and not _received:
            raise
        name = signal.Signals(_received[0]).name if _received else "SIGINT"
        said = _left[0]
        print(f"\n{script}: stopped by {name}; {said() if callable(said) else said}.", file=sys.stderr)
        return STOPPED
    finally:
        for each, handler in before.items():
            signal.signal(each, handler)
