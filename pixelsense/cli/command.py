"""The one handler every command line runs under: a problem the user can fix is one line and exit 2, Ctrl-C
or SIGTERM one line and exit 130, a missing training dependency says how to install it."""

from __future__ import annotations

import errno
import functools
import io
import os
import sys
from collections.abc import Callable

from pixelsense.errors import PixelsenseError
from pixelsense.files import cannot_write, forget_destinations
from pixelsense.signals import stoppable

EXIT_ERROR = 2  # a problem the user can fix: nothing was done
STOPPED_BY_READER = 141  # 128 + SIGPIPE: the exit a shell reports for a tool whose pipe's reader stopped


def say(script: str, message: str) -> int:
    """One line on stderr, and the exit code of a problem the user can fix."""
    print(f"{script}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def command(script: str, writes: str | bool = False) -> Callable:
    """Run a command's ``main(argv) -> exit code`` so that a PixelsenseError is one line and exit 2, an
    OSError while writing (a command with ``writes``) is one line naming the path and the option whose
    ``files.destination`` holds it, else ``writes`` where that is an option (a full disk says so), Ctrl-C or
    SIGTERM is one line and exit 130, and a missing training dependency says how to install it. Anything
    else is a bug and keeps its traceback."""

    def wrap(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            if sys.stderr is None:  # started with 2>&-: print(file=None) would write to stdout
                sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the process's life)
            if argv is None:  # a command line's own process (tests pass argv and capture stdout)
                name_stdout()

            def body() -> int:
                forget_destinations()  # each run names its own
                try:
                    code = main(argv)
                    if sys.stdout is not None:  # what is still buffered fails here, not in Python's exit
                        sys.stdout.flush()
                    return code
                except PixelsenseError as err:
                    return say(script, str(err))
                except ModuleNotFoundError as err:
                    if err.name not in TRAINING_MODULES:
                        raise
                    return say(script, f"{err.name} is not installed: this command needs the training "
                               "stack; pip install 'pixelsense[train]'.")  # fmt: skip
                except SystemExit as err:  # rich (Lightning's summary) exits 1 when stdout's pipe closes
                    if not _raised_in(err, "on_broken_pipe"):
                        raise
                    return STOPPED_BY_READER
                except OSError as err:
                    if err.filename == STDOUT:
                        return _stdout_failed(script, err)
                    if not writes:
                        raise
                    return say(script, cannot_write(err, None if writes is True else writes))

            return stoppable(script, body)

        return run

    return wrap


STDOUT = "<stdout>"  # the file name an error writing stdout carries (``NamedStdout``)


class NamedStdout(io.TextIOWrapper):
    """The process's stdout, whose write errors name it: a full disk behind ``>`` is said as stdout, not as
    the output file being written when it happened."""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as err:
            raise _named(err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as err:
            raise _named(err) from None


def _raised_in(err: BaseException, function: str) -> bool:
    """Whether ``err`` was raised in a function of that name (its innermost frame)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_name == function


def _named(err: OSError) -> OSError:
    return err if err.filename is not None else type(err)(err.errno, err.strerror, STDOUT)


def name_stdout() -> None:
    """Make sys.stdout a NamedStdout over the same buffer and settings (a command line's own process)."""
    if type(sys.stdout) is not io.TextIOWrapper:  # absent, captured, or already named
        return
    old = sys.stdout
    settings = {"encoding": old.encoding, "errors": old.errors, "line_buffering": old.line_buffering,
                "write_through": old.write_through}  # fmt: skip
    old.flush()
    sys.stdout = NamedStdout(old.detach(), **settings)


def _stdout_failed(script: str, err: OSError) -> int:
    """A pipe whose reader stopped (| head): stop too, quietly, as Unix tools do (exit 141); else one line
    saying stdout, not an output file that was written whole."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())  # what is still buffered goes nowhere at Python's exit, quietly
    os.close(null)
    if err.errno == errno.EPIPE or isinstance(err, BrokenPipeError):
        return STOPPED_BY_READER
    if err.errno == errno.ENOSPC:
        return say(script, "stdout: the disk is full; free some space or send stdout to another disk.")
    return say(script, f"stdout: {err.strerror or err}; send stdout elsewhere.")


# What ``pip install pixelsense`` leaves out (it installs the inference part only).
TRAINING_MODULES = {"torch", "torchvision", "pytorch_lightning", "lightning_fabric", "torchmetrics",
                    "tensorboard", "matplotlib", "onnx", "onnxscript"}  # fmt: skip
