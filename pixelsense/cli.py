"""Command-line entry points: parse, call the library, turn user errors into one clear line."""

from __future__ import annotations

import argparse
import sys

from pixelsense.config import ConfigError, parse_config
from pixelsense.sources import DataError


def fit_main(argv: list[str] | None = None) -> int:
    """``python scripts/fit.py``: returns the exit code (0 done, 2 a problem the user can fix)."""
    from pixelsense.export import ExportError
    from pixelsense.train import ResumeError, fit

    args = sys.argv[1:] if argv is None else argv
    try:
        fit(parse_config(args), command=" ".join(["python scripts/fit.py", *args]))
    except (ConfigError, DataError, ResumeError, ExportError) as err:
        print(f"fit.py: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unwritable --checkpoint-dir or --logdir, a full disk, ...
        print(f"fit.py: error: {err.strerror or err}: {err.filename}; check the path and its permissions.",
              file=sys.stderr)  # fmt: skip
        return 2
    return 0


def get_data_main(argv: list[str] | None = None) -> int:
    """``python scripts/get_data.py``: put verified Fashion-MNIST in <data-dir>/FashionMNIST/raw/."""
    from pixelsense.sources import ensure_fashion_mnist

    parser = argparse.ArgumentParser(description=get_data_main.__doc__)
    parser.add_argument("--data-dir", default="data", help="where the data goes (default: data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    try:
        raw = ensure_fashion_mnist(args.data_dir, download=args.download)
    except DataError as err:
        print(f"get_data.py: error: {err}", file=sys.stderr)
        return 2
    print(f"Fashion-MNIST ready in {raw} (SHA-256 verified)")
    return 0


def export_main(argv: list[str] | None = None) -> int:
    """``python scripts/export.py``: checkpoint → verified ONNX file (exit 0), or one error line (exit 2)."""
    parser = argparse.ArgumentParser(description="Export a pixelsense checkpoint to a verified ONNX file.")
    parser.add_argument("--ckpt", required=True, help="a .ckpt written by scripts/fit.py (ANN or CNN)")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--data-dir", default="data", help="Fashion-MNIST for the parity check")
    args = parser.parse_args(argv)

    from pixelsense.export import ExportError, card_accuracy, describe, export, load_checkpoint
    from pixelsense.sources import ensure_fashion_mnist

    try:
        model = load_checkpoint(args.ckpt)
        ensure_fashion_mnist(args.data_dir, download=False)
        images = official_test_images(args.data_dir)
        diffs = export(model, args.out, images, card_accuracy(args.ckpt))
    except (ExportError, DataError) as err:
        print(f"export.py: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # --out in a folder that cannot be written
        print(
            f"export.py: error: {err.filename}: {err.strerror or err}; pick another --out.", file=sys.stderr
        )
        return 2
    print(f"wrote {args.out} ({model.hparams.arch}); {describe(diffs)}")
    return 0


def official_test_images(data_dir):
    """The official test images, uint8 ``[10000, 28, 28]``, for parity checks."""
    from torchvision.datasets import FashionMNIST

    return FashionMNIST(str(data_dir), train=False).data
