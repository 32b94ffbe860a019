"""Option types and option groups that several commands share."""

from __future__ import annotations

import argparse

from pixelsense.train.checks import MAX_SEED

CORES = "cores"  # a range's top: this machine's cores (every worker or thread would start, to share them)
# The range of every numeric option of the commands that are not fit.py (whose settings train.checks bounds):
# option → (least, most, why the most).
RANGES = {
    "batch-size": (1, 65_536, "51 MB of pixels a call; larger is no faster"),  # predict.py
    "workers": (1, CORES, "the cores of this machine"),
    "threads": (1, CORES, "the cores of this machine"),
    "count": (1, 10_000, "the test set's size"),  # photos.py
    "seed": (0, MAX_SEED, "numpy's largest seed"),
    "seeds": (1, 100, "a mean over more seeds moves no further"),  # compare.py, explain.py
    "rounds": (1, 1_000, "the median of a few is steady"),  # bench.py
    "photos": (1, 100_000, "JPEGs written to a temporary folder"),
    "arrays": (1, 2_000_000, "1.5 GB of images in memory"),
    "requests": (1, 1_000_000, "the median of a few rounds is steady"),
    "port": (0, 65_535, "the largest TCP port"),
}


def number(option: str):
    """The argparse type of the numeric option ``--option``: a whole number in its RANGES, else one line that
    says the range."""
    least, most, why = RANGES[option]

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        top = _cores() if most == CORES else most
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least:,}, not {value:,}")
        if value > top:
            raise argparse.ArgumentTypeError(f"must be at most {top:,}, {why}; not {value:,}")
        return value

    return parse


def _cores() -> int:
    from pixelsense.infer.decoding import cores

    return cores()


def path(text: str) -> str:
    """A file or a folder named on a command line: never empty (Path("") is the current folder, which an
    empty argument never meant: fit.py --data-dir '' would download into it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a file or a folder")
    return text


def address(text: str) -> str:
    """An address to listen on: never empty (the socket layer takes "" as every interface, which an empty
    argument never meant, for a server without authentication)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name an address, such as 127.0.0.1 (this machine only)")
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
    parser.add_argument("--threads", type=number("threads"), default=_cores(),
                        help=f"onnxruntime threads for {threads_for} (default: all cores)")  # fmt: skip


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (what is wrong, and where the options are), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help.\n")
