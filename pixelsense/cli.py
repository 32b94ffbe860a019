"""Command-line entry points: parse, call the library, turn user errors into one clear line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pixelsense.config import ConfigError, Parser, parse_config
from pixelsense.signals import stoppable_command
from pixelsense.sources import DataError

# What compare.py and explain.py leave when stopped.
KEPT_RUNS = "the finished runs are kept, and the next run takes them as they are; nothing was half-written"


def _error(script: str, message: str) -> int:
    """One line on stderr, and the exit code of a problem the user can fix."""
    print(f"{script}: error: {message}", file=sys.stderr)
    return 2


def _write_error(script: str, err: OSError, option: str) -> int:
    from pixelsense.files import cannot_write

    return _error(script, cannot_write(err, option))


def fit_main(argv: list[str] | None = None) -> int:
    """``python scripts/fit.py``: the exit code (0 done, 2 a problem the user can fix, 130 stopped)."""
    from pixelsense.export import ExportError
    from pixelsense.files import Busy
    from pixelsense.signals import stoppable
    from pixelsense.train import ResumeError, fit

    args = sys.argv[1:] if argv is None else argv
    try:
        cfg = parse_config(args)
    except ConfigError as err:
        return _error("fit.py", str(err))

    def run() -> int:
        try:
            fit(cfg, command=" ".join(["python scripts/fit.py", *args]))
        except (ConfigError, DataError, ResumeError, ExportError, Busy) as err:
            return _error("fit.py", str(err))
        except OSError as err:  # an unwritable --checkpoint-dir or --logdir, a full disk, ...
            return _write_error("fit.py", err, "--checkpoint-dir or --logdir")
        return 0

    def left() -> str:
        last = Path(cfg.checkpoint_dir) / "last.ckpt"
        if last.is_file():
            return f"{last} holds the last finished epoch: run again with --resume to go on from there"
        return "no epoch had finished, so there is nothing to resume"

    return stoppable("fit.py", run, left)


@stoppable_command("get_data.py")
def get_data_main(argv: list[str] | None = None) -> int:
    """``python scripts/get_data.py``: put verified Fashion-MNIST in <data-dir>/FashionMNIST/raw/."""
    from pixelsense.sources import ensure_fashion_mnist

    parser = Parser(description=get_data_main.__doc__)
    parser.add_argument("--data-dir", default="data", help="where the data goes (default: data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    try:
        raw = ensure_fashion_mnist(args.data_dir, download=args.download)
    except DataError as err:
        return _error("get_data.py", str(err))
    print(f"Fashion-MNIST ready in {raw} (SHA-256 verified)")
    return 0


@stoppable_command("export.py")
def export_main(argv: list[str] | None = None) -> int:
    """``python scripts/export.py``: checkpoint → verified ONNX file (exit 0), or one error line (exit 2)."""
    parser = Parser(description="Export a pixelsense checkpoint to a verified ONNX file.")
    parser.add_argument("--ckpt", required=True, help="a .ckpt written by scripts/fit.py (ANN or CNN)")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--data-dir", default="data", help="Fashion-MNIST for the parity check")
    args = parser.parse_args(argv)

    from pixelsense.evaluate import official_test_set
    from pixelsense.export import (
        ExportError,
        card_accuracy,
        check_destination,
        describe,
        export,
        load_checkpoint,
    )
    from pixelsense.files import OutputIsInput

    try:
        check_destination(args.out, args.ckpt, args.data_dir)  # before anything runs: no input is at risk
        model = load_checkpoint(args.ckpt)
        images, _ = official_test_set(args.data_dir)
        diffs = export(model, args.out, images, card_accuracy(args.ckpt))
    except (ExportError, DataError, OutputIsInput) as err:
        return _error("export.py", str(err))
    except OSError as err:  # --out in a folder that cannot be written, a full disk
        return _write_error("export.py", err, "--out")
    print(f"wrote {args.out} ({model.hparams.arch}); {describe(diffs)}")
    return 0


@stoppable_command("evaluate.py")
def evaluate_main(argv: list[str] | None = None) -> int:
    """``python scripts/evaluate.py``: the classification report and figures of one model on the test set."""
    parser = Parser(
        description="Evaluate a checkpoint or an ONNX export on the official Fashion-MNIST test set."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--ckpt", help="a .ckpt written by scripts/fit.py (run with torch)")
    which.add_argument("--onnx", help="an ONNX file written by scripts/export.py (run with onnxruntime)")
    parser.add_argument("--output-dir", help="where the files go (default: <model>-evaluation beside it)")
    parser.add_argument(
        "--data-dir", default="data", help="where Fashion-MNIST is, or is put (default: data)"
    )
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                        help="allow torchvision's download when no local copy is found")  # fmt: skip
    args = parser.parse_args(argv)

    from pixelsense import evaluate
    from pixelsense.export import ExportError
    from pixelsense.files import file_in_the_way
    from pixelsense.predict import ModelError
    from pixelsense.report import as_text

    model_path = args.ckpt or args.onnx
    out_dir = Path(args.output_dir or evaluate.default_output_dir(model_path))
    blocked = file_in_the_way(out_dir)  # refused now, not after the whole test set has run
    if blocked is not None:
        return _error("evaluate.py", f"{blocked} is a file, so the report cannot go in {out_dir}; pick "
                      "another --output-dir.")  # fmt: skip
    try:  # the model first: a wrong path should not wait for (or download) the data
        predict = (
            evaluate.checkpoint_predictor(model_path) if args.ckpt else evaluate.onnx_predictor(model_path)
        )
        images, labels = evaluate.official_test_set(args.data_dir, args.download)
        probabilities = predict(images)
    except (ExportError, ModelError, DataError) as err:
        return _error("evaluate.py", str(err))
    try:
        report = evaluate.write_evaluation(probabilities, labels, images, out_dir, Path(model_path).name)
    except OSError as err:
        return _write_error("evaluate.py", err, "--output-dir")
    print(as_text(report))
    print(f"wrote {', '.join(evaluate.FILES)} to {out_dir}")
    return 0


def _measuring_options(parser: argparse.ArgumentParser, threads_for: str) -> None:
    """--data-dir, --threads and --download, as the commands that train and measure take them."""
    parser.add_argument("--data-dir", default="data", help="where Fashion-MNIST is (default: data)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help=f"onnxruntime threads for {threads_for} (default: all cores)")  # fmt: skip
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                        help="allow torchvision's download when no local copy is found")  # fmt: skip


@stoppable_command("compare.py", after=KEPT_RUNS)
def compare_main(argv: list[str] | None = None) -> int:
    """``python scripts/compare.py``: the ANN against the CNN, as report.md, figures and report.json files."""
    parser = Parser(description="Compare the ANN and the CNN on the official test set: train them (or take "
                    "checkpoints) and write a report.")  # fmt: skip
    parser.add_argument("--seeds", type=int, help="runs to train per model, seeds 0..N-1 (default: 1)")
    parser.add_argument("--ann", nargs="+", metavar="CKPT", help="ANN checkpoints to use instead of training")
    parser.add_argument("--cnn", nargs="+", metavar="CKPT", help="CNN checkpoints to use instead of training")
    parser.add_argument("--output-dir", default="reports/compare", help="default: reports/compare")
    _measuring_options(parser, "the img/s column")
    args = parser.parse_args(argv)
    if bool(args.ann) != bool(args.cnn):
        parser.error("give both --ann and --cnn, or neither to train both models")
    if args.ann and args.seeds is not None:
        parser.error("--seeds trains new runs; drop it when you pass --ann and --cnn checkpoints")
    if (args.seeds is not None and args.seeds < 1) or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")

    from pixelsense.compare import FILES, check_checkpoints, evaluate_runs, write_comparison
    from pixelsense.config import ConfigError
    from pixelsense.evaluate import official_test_set
    from pixelsense.export import ExportError
    from pixelsense.summary import conclusion

    try:
        if args.ann:
            ckpts = {"ann": args.ann, "cnn": args.cnn}
            check_checkpoints(ckpts)
            images, labels = official_test_set(args.data_dir, args.download)
        else:
            from pixelsense.runs import train_runs

            images, labels = official_test_set(args.data_dir, args.download)
            trained = train_runs(args.seeds or 1, args.output_dir, args.data_dir, args.download,
                                 log=lambda line: print(f"compare: {line}", flush=True))  # fmt: skip
            ckpts = {model: [m["best_checkpoint"] for m in runs] for model, runs in trained.items()}
        results = {m: evaluate_runs(paths, images, labels, args.threads) for m, paths in ckpts.items()}
    except (ExportError, DataError, ConfigError) as err:
        return _error("compare.py", str(err))
    try:
        out_dir = write_comparison(results, args.output_dir)
    except OSError as err:
        return _write_error("compare.py", err, "--output-dir")
    print("\n".join(conclusion(results["ann"], results["cnn"])))
    print(f"wrote {', '.join(FILES)} to {out_dir}")
    return 0


@stoppable_command("explain.py", after=KEPT_RUNS)
def explain_main(argv: list[str] | None = None) -> int:
    """``python scripts/explain.py``: the controlled experiments behind "why the CNN wins"."""
    parser = Parser(
        description="Why the CNN wins: train the controlled experiments that are missing (pixel "
        "permutation, same augmentation), measure, and write why.md, why.json and the figures."
    )
    parser.add_argument("--seeds", type=int, default=2, help="runs per experiment, seeds 0..N-1 (default: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="every run 1 epoch: all the files in minutes, numbers meaningless")  # fmt: skip
    parser.add_argument("--output-dir", default="reports/why", help="default: reports/why")
    parser.add_argument("--compare-dir", default="reports/compare",
                        help="reuse compare.py runs found here (default: reports/compare)")  # fmt: skip
    _measuring_options(parser, "the measurements")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")

    from pixelsense.explain import FILES, explain
    from pixelsense.export import ExportError

    command = " ".join(["python scripts/explain.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        log = lambda line: print(f"explain: {line}", flush=True)  # noqa: E731
        why = explain(args.seeds, args.output_dir, args.data_dir, args.download, args.quick,
                      [args.compare_dir], args.threads, command, log)  # fmt: skip
    except (ExportError, DataError, ConfigError) as err:
        return _error("explain.py", str(err))
    except OSError as err:
        return _write_error("explain.py", err, "--output-dir")
    print("\n".join(why["conclusion"]))
    print(f"wrote {', '.join(FILES)} to {why['output_dir']}")
    return 0


@stoppable_command("bench.py", after="nothing was written")
def bench_main(argv: list[str] | None = None) -> int:
    """``python scripts/bench.py {train,data,inference}``: pixelsense against its reference, side by side."""
    from pixelsense.predict import positive_int

    parser = Parser(description="Measure pixelsense against what a user would otherwise run, both sides "
                    "alternating in one process; the last line is name=ratio.")  # fmt: skip
    benches = parser.add_subparsers(dest="bench", required=True, metavar="{train,data,inference}")
    train = benches.add_parser("train", help="fit.py's training epoch against a bare PyTorch loop")
    train.add_argument("--models", nargs="+", choices=("ann", "cnn"), default=["ann", "cnn"])
    data = benches.add_parser("data", help="the DataModule against torchvision's Dataset and DataLoader")
    data.add_argument("--model", choices=("ann", "cnn"), default="cnn",
                      help="whose recipe (batch, augmentation) the batches take (default: cnn)")  # fmt: skip
    for sub in (train, data):
        sub.add_argument("--rounds", type=positive_int, default=5, help="measured epochs a side (default: 5)")
        sub.add_argument("--data-dir", default="data", help="where Fashion-MNIST is (default: data)")
        sub.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                         help="allow torchvision's download when no local copy is found")  # fmt: skip
    inference = benches.add_parser("inference", help="onnxruntime against eager torch, same network")
    inference.add_argument("--ckpt", help="a pixelsense checkpoint (default: the CNN recipe, random weights)")
    inference.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1,
                           help="threads for both engines (default: all cores)")  # fmt: skip
    inference.add_argument("--rounds", type=positive_int, default=5, help="alternating rounds per batch size")
    args = parser.parse_args(argv)

    from pixelsense.checks import MAX_ROUNDS
    from pixelsense.export import ExportError

    cores = os.cpu_count() or 1
    if args.rounds > MAX_ROUNDS:
        return _error("bench.py", f"--rounds must be at most {MAX_ROUNDS:,}; the median of a few is steady.")
    if getattr(args, "threads", 1) > cores:  # onnxruntime would start them all, and measure their contention
        return _error("bench.py", f"--threads must be at most {cores}, the cores of this machine.")
    try:
        lines = _run_bench(args)
    except (DataError, ConfigError, ExportError) as err:
        return _error("bench.py", str(err))
    print("\n".join(lines))
    return 0


def _run_bench(args: argparse.Namespace) -> list[str]:
    """The bench's report: what was measured where, its table, and the name=ratio line."""
    if args.bench == "train":
        from pixelsense.bench import train

        results = [train.measure(m, args.rounds, args.data_dir, args.download) for m in args.models]
        first = results[0]
        worst = max(r["ratio"] for r in results)
        return [f"one training epoch (train + validation), median of {args.rounds} alternating rounds after "
                f"1 warm-up, on {first['device']}, precision {first['precision']}", train.table(results),
                f"lightning_overhead={worst:.2f}"]  # fmt: skip
    if args.bench == "data":
        from pixelsense.bench import data

        result = data.measure(args.data_dir, args.download, args.rounds, args.model)
        return [f"{result['images']:,} training images, {args.model} recipe (batch {result['batch_size']}), "
                f"median of {args.rounds} alternating rounds after 1 warm-up, on {result['device']}",
                data.table(result), f"data_path_speedup={result['speedup']:.1f}"]  # fmt: skip
    from pixelsense.bench import inference

    results = inference.compare(args.ckpt, args.threads, args.rounds)
    network = args.ckpt or "CNN of the default recipe"
    return [f"{network}, {args.threads} threads, median of {args.rounds} alternating rounds",
            inference.table(results), f"ort_vs_torch_speedup={results[-1]['speedup']:.2f}"]  # fmt: skip
