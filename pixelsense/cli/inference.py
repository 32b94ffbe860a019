"""The commands around a trained model: export it, evaluate it, and predict with it (no torch needed)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from pixelsense.cli.command import STDOUT, STOPPED_BY_READER, command
from pixelsense.cli.options import Parser, data_options, number, path
from pixelsense.constants import NUM_CLASSES
from pixelsense.errors import PixelsenseError
from pixelsense.files import cannot_write
from pixelsense.signals import if_stopped


def _left_by_predict(out: str | None, before: tuple | None) -> str:
    """What a stopped predict.py leaves: its --output whole (stopped just after it was put in place: the file
    there is another one than at the start), or as it was, or on stdout the rows done so far."""
    from pixelsense.files import identity, stream_fd

    if not out or stream_fd(out) is not None:
        return "stdout has the rows done so far" if not out else f"{out} has the rows done so far"
    if identity(out) != before:
        return f"--output {out} was written whole just before"
    return f"--output {out} was not written"


@command("predict.py", writes="--output")
def predict_main(argv: list[str] | None = None) -> int:
    """``python scripts/predict.py``: 0 all predicted, 1 some inputs failed, 2 nothing done, 130 stopped, 141
    stdout's reader stopped reading (a pipe closed early)."""
    from pixelsense.infer.decoding import TASK, cores
    from pixelsense.infer.engine import PROVIDERS
    from pixelsense.infer.photo import POLARITIES
    from pixelsense.infer.predict import Request, run

    parser = Parser(
        prog="predict.py", description="Classify Fashion-MNIST-style images with a pixelsense ONNX model."
    )
    parser.add_argument("--model", type=path, required=True, help="a .onnx file exported by pixelsense")
    parser.add_argument("inputs", nargs="*", help="image files, folders, globs, IDX image files, .npy arrays")
    parser.add_argument("--batch-size", type=number("batch-size"), default=Request.batch_size,
                        help="images per onnxruntime call (default: 256; the workers decode and predict "
                        f"image files in tasks of {TASK})")  # fmt: skip
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument(
        "--output", type=path, help="write here (whole or not at all) instead of stdout ('-': stdout)"
    )
    parser.add_argument("--topk", type=int, choices=range(1, NUM_CLASSES + 1), metavar="K", default=1,
                        help="also give the K best classes, 1 to 10 (default: 1)")  # fmt: skip
    parser.add_argument(
        "--labels", type=path, help="true labels: IDX labels, .npy, or CSV file,label; prints accuracy"
    )
    parser.add_argument("--invert", choices=POLARITIES, nargs="?", const="on", default="auto",
                        help="image files: 'auto' (default) reads a light border as a dark garment on a "
                        "light background (a product photo) and inverts it; 'on' (or --invert alone) always "
                        "inverts, 'off' never; IDX files and .npy arrays are read as they are")  # fmt: skip
    parser.add_argument("--workers", type=number("workers"), default=cores(),
                        help=f"processes decoding image files and, with the cpu provider, predicting them "
                        f"(default: the {cores()} cores)")  # fmt: skip
    parser.add_argument("--threads", type=number("threads"),
                        help="onnxruntime threads a batch in the main process (default: 1, a batch on "
                        "each core at once; more: fewer batches at once; a worker uses one)")  # fmt: skip
    parser.add_argument("--provider", choices=tuple(PROVIDERS), default="cpu")
    args = parser.parse_args(argv)
    args.output = None if args.output == "-" else args.output  # the usual name for stdout
    if sys.stdout is None and not args.output:  # started with stdout closed (>&-): Python has none
        raise PixelsenseError("stdout is closed, so the rows have nowhere to go; pass --output FILE.")
    from pixelsense.files import identity

    before = identity(args.output) if args.output else None
    if_stopped(lambda: _left_by_predict(args.output, before))
    if not args.output and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="surrogateescape")  # a name that is not UTF-8: its bytes, as ls writes
    try:
        return run(Request(**vars(args)))
    except BrokenPipeError:  # the reader of a pipe stopped (| head): stop too, quietly, as Unix tools do
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())  # for Python's last flush
        os.close(null)
        return STOPPED_BY_READER
    except OSError as err:  # writing the rows to stdout (a full disk behind >): say stdout, not --output
        if args.output or err.filename not in (None, STDOUT):
            raise
        stdout = OSError(err.errno, err.strerror, "stdout")
        raise PixelsenseError(cannot_write(stdout, "--output FILE")) from None


@command("export.py", writes="--out")
def export_main(argv: list[str] | None = None) -> int:
    """``python scripts/export.py``: checkpoint → verified ONNX file (exit 0), or one error line (exit 2)."""
    parser = Parser(description="Export a pixelsense checkpoint to a verified ONNX file.")
    parser.add_argument(
        "--ckpt", type=path, required=True, help="a .ckpt written by scripts/fit.py (ANN or CNN)"
    )
    parser.add_argument("--out", type=path, required=True, help="the .onnx file to write")
    parser.add_argument("--data-dir", type=path, default="data", help="Fashion-MNIST for the parity check")
    args = parser.parse_args(argv)

    from pixelsense.train.checkpoints import card_accuracy, load_checkpoint
    from pixelsense.train.data import official_test_set
    from pixelsense.train.export import check_destination, describe, export

    check_destination(args.out, args.ckpt, args.data_dir)  # before anything runs: no input is at risk
    model = load_checkpoint(args.ckpt)
    images, _ = official_test_set(args.data_dir)
    diffs = export(model, args.out, images, card_accuracy(args.ckpt))
    print(f"wrote {args.out} ({model.hparams.arch}); {describe(diffs)}")
    return 0


@command("evaluate.py", writes="--output-dir")
def evaluate_main(argv: list[str] | None = None) -> int:
    """``python scripts/evaluate.py``: the classification report and figures of one model on the test set."""
    parser = Parser(
        description="Evaluate a checkpoint or an ONNX export on the official Fashion-MNIST test set."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--ckpt", type=path, help="a .ckpt written by scripts/fit.py (run with torch)")
    which.add_argument(
        "--onnx", type=path, help="an ONNX file written by scripts/export.py (run with onnxruntime)"
    )
    parser.add_argument(
        "--output-dir", type=path, help="where the files go (default: <model>-evaluation beside it)"
    )
    data_options(parser)
    args = parser.parse_args(argv)

    from pixelsense.files import check_not_input, output_folder
    from pixelsense.study import evaluate
    from pixelsense.train.data import official_test_set
    from pixelsense.train.report import as_text

    model_path = args.ckpt or args.onnx
    out_dir = Path(args.output_dir or evaluate.default_output_dir(model_path))
    output_folder("--output-dir", out_dir)  # refused now, not after the whole test set has run
    what = "the --ckpt checkpoint" if args.ckpt else "the --onnx model"
    for name in evaluate.FILES:  # a model named report.json in --output-dir would be replaced by the report
        check_not_input(out_dir / name, [model_path], "--output-dir", what)
    # The model first: a wrong path should not wait for (or download) the data.
    predict = evaluate.checkpoint_predictor(model_path) if args.ckpt else evaluate.onnx_predictor(model_path)
    images, labels = official_test_set(args.data_dir, args.download)
    probabilities = predict(images)
    report = evaluate.write_evaluation(probabilities, labels, images, out_dir, Path(model_path).name)
    print(as_text(report))
    print(f"wrote {', '.join(evaluate.FILES)} to {out_dir}")
    return 0


def _left_by_photos(out: Path | None) -> str:
    """What a stopped photos.py leaves: the sets made so far in --out, or nothing."""
    made = sum(1 for p in out.rglob("*") if p.is_file()) if out and out.is_dir() else 0
    return f"--out {out} keeps the {made:,} files of the sets made so far" if made else "nothing was written"


@command("photos.py", writes=True)
def photos_main(argv: list[str] | None = None) -> int:
    """``python scripts/photos.py``: predict.py's accuracy on synthetic photo sets made from test items."""
    parser = Parser(
        prog="photos.py",
        description="Make photo sets from Fashion-MNIST test items and score predict.py on each.",
    )
    parser.add_argument("--models", type=path, nargs="+",
                        default=["checkpoints/cnn.onnx", "checkpoints/ann.onnx"],
                        help="pixelsense ONNX models (default: the two shipped)")  # fmt: skip
    parser.add_argument(
        "--count", type=number("count"), default=1000, help="test items per set (default: 1000)"
    )
    parser.add_argument(
        "--seed", type=number("seed"), default=0, help="which items, and how the photos vary (default: 0)"
    )
    parser.add_argument(
        "--out", type=path, help="keep the photo sets in this folder (default: a temporary one)"
    )
    parser.add_argument("--sharpen", type=float, default=None, metavar="SIGMA",
                        help="the conversion's unsharp mask, 0 for none (default: predict.py's)")  # fmt: skip
    parser.add_argument("--json", type=path, help="also write the results here")
    parser.add_argument(
        "--figure", type=path, help="also draw a photo per set, its 28×28 and the first model's answer"
    )
    data_options(parser)
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else None
    if out and out.is_dir() and any(out.iterdir()):  # its files would be replaced
        raise PixelsenseError(f"--out {out} exists and is not an empty folder; photos.py writes its sets "
                              "only into a new or empty one.")  # fmt: skip
    if args.sharpen is not None and not 0 <= args.sharpen <= 5:  # a 7-tap kernel: beyond 5 is a box blur
        raise PixelsenseError("--sharpen must be between 0 and 5 pixels.")

    from pixelsense.files import check_not_input, check_writable, output_file, output_folder, stream_fd
    from pixelsense.infer import photo
    from pixelsense.study import photo_report
    from pixelsense.study.photosets import test_items
    from pixelsense.train.sources import SHA256, raw_dir

    if out:
        output_folder("--out", out)
    for option, where in (("--json", args.json), ("--figure", args.figure)):  # refused now, not after the run
        if where and stream_fd(where) is not None:  # written where that stream goes, as it is
            continue
        if where and Path(where).is_dir():
            raise PixelsenseError(f"{option} {where} is a folder; name a file.")
        if where:
            output_file(option, where)
            check_not_input(where, args.models, option, "a --models file")
            check_not_input(where, [raw_dir(args.data_dir) / name for name in SHA256], option,
                            "a Fashion-MNIST file")  # fmt: skip
            check_writable(Path(where).parent)
    if args.json and args.figure and not {stream_fd(args.json), stream_fd(args.figure)} - {None}:
        check_not_input(args.figure, [args.json], "--figure", "the --json file")
    if_stopped(lambda: _left_by_photos(out))
    images, labels = test_items(args.data_dir, args.download)
    sharpen = photo.SHARPEN if args.sharpen is None else args.sharpen
    results = photo_report.score(args.models, images, labels, args.count, args.seed, args.out, sharpen)
    print(f"`{results['command']}`, {args.count} test items per set, predict.py with no flag\n")
    print(photo_report.table(results))
    photo_report.save(results, args.json, args.figure, args.models[0], images, labels)
    return 0
