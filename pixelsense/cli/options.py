"""Option types and option groups that several commands share."""

from __future__ import annotations

import argparse
import os


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def path(text: str) -> str:
    """A file or a folder named on a command line: never empty (Path("") is the current folder, which an
    empty argument never meant: fit.py --data-dir '' would download into it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a file or a folder")
    return text


def data_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --download, as every command that reads Fashion-MNIST takes them."""
    parser.add_argument(
        "--data-dir", type=path, default="data", help="where Fashion-MNIST is or goes (default: data)"
    )
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                        help="allow torchvision's download when no local copy is found")  # fmt: skip


def measuring_options(parser: argparse.ArgumentParser, threads_for: str) -> None:
    """--data-dir, --download and --threads, as the commands that train and measure take them."""
    data_options(parser)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help=f"onnxruntime threads for {threads_for} (default: all cores)")  # fmt: skip


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (what is wrong, and where the options are), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help.\n")
