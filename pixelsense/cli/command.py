"""The one handler every command line runs under: a problem the user can fix is one line and exit 2, Ctrl-C
or SIGTERM one line and exit 130, a missing training dependency says how to install it."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from pixelsense.errors import PixelsenseError
from pixelsense.files import cannot_write, forget_destinations
from pixelsense.signals import stoppable

EXIT_ERROR = 2  # a problem the user can fix: nothing was done


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

            def body() -> int:
                forget_destinations()  # each run names its own
                try:
                    return main(argv)
                except PixelsenseError as err:
                    return say(script, str(err))
                except ModuleNotFoundError as err:
                    if err.name not in TRAINING_MODULES:
                        raise
                    return say(script, f"{err.name} is not installed: this command needs the training "
                               "stack; pip install 'pixelsense[train]'.")  # fmt: skip
                except OSError as err:
                    if not writes:
                        raise
                    return say(script, cannot_write(err, None if writes is True else writes))

            return stoppable(script, body)

        return run

    return wrap


# What ``pip install pixelsense`` leaves out (it installs the inference part only).
TRAINING_MODULES = {"torch", "torchvision", "pytorch_lightning", "lightning_fabric", "torchmetrics",
                    "tensorboard", "matplotlib", "onnx", "onnxscript"}  # fmt: skip
