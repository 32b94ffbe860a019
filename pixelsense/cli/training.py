"""The commands that get data, train and measure: get_data, fit, compare, explain and bench."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixelsense.cli.command import command
from pixelsense.cli.fit_options import parse_config
from pixelsense.cli.options import Parser, data_options, measuring_options, positive_int
from pixelsense.errors import PixelsenseError
from pixelsense.infer.decoding import cores
from pixelsense.signals import if_stopped
from pixelsense.train.config import FitConfig

# What compare.py and explain.py leave when stopped.
KEPT_RUNS = "the finished runs are kept, and the next run takes them as they are; nothing was half-written"


@command("get_data.py", writes="--data-dir")
def get_data_main(argv: list[str] | None = None) -> int:
    """``python scripts/get_data.py``: put verified Fashion-MNIST in <data-dir>/FashionMNIST/raw/."""
    from pixelsense.train.sources import ensure_fashion_mnist

    parser = Parser(description=get_data_main.__doc__)
    parser.add_argument("--data-dir", default="data", help="where the data goes (default: data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    raw = ensure_fashion_mnist(args.data_dir, download=args.download)
    print(f"Fashion-MNIST ready in {raw} (SHA-256 verified)")
    return 0


@command("fit.py", writes="--checkpoint-dir or --logdir")
def fit_main(argv: list[str] | None = None) -> int:
    """``python scripts/fit.py``: the exit code (0 done, 2 a problem the user can fix, 130 stopped)."""
    from pixelsense.train.checks import folder_problems

    args = sys.argv[1:] if argv is None else argv
    cfg = parse_config(args)  # before Lightning is imported: --help and a bad option answer at once
    if problems := folder_problems(cfg):  # refused now, not when the lock or the logger makes the folder
        raise PixelsenseError("; ".join(problems) + ".")
    from pixelsense.train.run import fit

    if_stopped(lambda: _left_by_fit(cfg))
    fit(cfg, command=" ".join(["python scripts/fit.py", *args]))
    return 0


def _left_by_fit(cfg: FitConfig) -> str:
    last = Path(cfg.checkpoint_dir) / "last.ckpt"
    if last.is_file():
        return f"{last} holds the last finished epoch: run again with --resume to go on from there"
    return "no epoch had finished, so there is nothing to resume"


@command("compare.py", writes="--output-dir")
def compare_main(argv: list[str] | None = None) -> int:
    """``python scripts/compare.py``: the ANN against the CNN, as report.md, figures and report.json files."""
    parser = Parser(description="Compare the ANN and the CNN on the official test set: train them (or take "
                    "checkpoints) and write a report.")  # fmt: skip
    parser.add_argument("--seeds", type=int, help="runs to train per model, seeds 0..N-1 (default: 1)")
    parser.add_argument("--ann", nargs="+", metavar="CKPT", help="ANN checkpoints to use instead of training")
    parser.add_argument("--cnn", nargs="+", metavar="CKPT", help="CNN checkpoints to use instead of training")
    parser.add_argument("--output-dir", default="reports/compare", help="default: reports/compare")
    measuring_options(parser, "the img/s column")
    args = parser.parse_args(argv)
    if bool(args.ann) != bool(args.cnn):
        parser.error("give both --ann and --cnn, or neither to train both models")
    if args.ann and args.seeds is not None:
        parser.error("--seeds trains new runs; drop it when you pass --ann and --cnn checkpoints")
    if (args.seeds is not None and args.seeds < 1) or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")

    from pixelsense.study.compare import FILES, check_checkpoints, evaluate_runs, write_comparison
    from pixelsense.study.summary import conclusion
    from pixelsense.train.data import official_test_set

    if_stopped(KEPT_RUNS)
    if args.ann:
        ckpts = {"ann": args.ann, "cnn": args.cnn}
        check_checkpoints(ckpts)
        images, labels = official_test_set(args.data_dir, args.download)
    else:
        from pixelsense.study.runs import train_runs

        images, labels = official_test_set(args.data_dir, args.download)
        trained = train_runs(args.seeds or 1, args.output_dir, args.data_dir, args.download,
                             log=lambda line: print(f"compare: {line}", flush=True))  # fmt: skip
        ckpts = {model: [m["best_checkpoint"] for m in runs] for model, runs in trained.items()}
    results = {m: evaluate_runs(paths, images, labels, args.threads) for m, paths in ckpts.items()}
    out_dir = write_comparison(results, args.output_dir)
    print("\n".join(conclusion(results["ann"], results["cnn"])))
    print(f"wrote {', '.join(FILES)} to {out_dir}")
    return 0


@command("explain.py", writes="--output-dir")
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
    measuring_options(parser, "the measurements")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")

    from pixelsense.study.explain import FILES, explain

    if_stopped(KEPT_RUNS)
    command_line = " ".join(["python scripts/explain.py", *(sys.argv[1:] if argv is None else argv)])
    why = explain(args.seeds, args.output_dir, args.data_dir, args.download, args.quick, [args.compare_dir],
                  args.threads, command_line, lambda line: print(f"explain: {line}", flush=True))  # fmt: skip
    print("\n".join(why["conclusion"]))
    print(f"wrote {', '.join(FILES)} to {why['output_dir']}")
    return 0


@command("bench.py")
def bench_main(argv: list[str] | None = None) -> int:
    """``python scripts/bench.py {train,data,inference,predict}``: pixelsense against its reference."""
    parser = Parser(description="Measure pixelsense against what a user would otherwise run, both sides "
                    "alternating in one process; the last line is name=ratio.")  # fmt: skip
    benches = parser.add_subparsers(dest="bench", required=True, metavar="{train,data,inference,predict}")
    train = benches.add_parser("train", help="fit.py's training epoch against a bare PyTorch loop")
    train.add_argument("--models", nargs="+", choices=("ann", "cnn"), default=["ann", "cnn"])
    data = benches.add_parser("data", help="the DataModule against torchvision's Dataset and DataLoader")
    data.add_argument("--model", choices=("ann", "cnn"), default="cnn",
                      help="whose recipe (batch, augmentation) the batches take (default: cnn)")  # fmt: skip
    for sub in (train, data):
        sub.add_argument("--rounds", type=positive_int, default=5, help="measured epochs a side (default: 5)")
        data_options(sub)
    inference = benches.add_parser("inference", help="onnxruntime against eager torch, same network")
    inference.add_argument("--ckpt", help="a pixelsense checkpoint (default: the CNN recipe, random weights)")
    inference.add_argument("--threads", type=positive_int, default=cores(),
                           help="threads for both engines (default: all cores)")  # fmt: skip
    inference.add_argument("--rounds", type=positive_int, default=5, help="alternating rounds per batch size")
    predict = benches.add_parser("predict", help="predict.py against a naive loop and onnxruntime")
    predict.add_argument("--models", nargs="+", default=["checkpoints/ann.onnx", "checkpoints/cnn.onnx"],
                         help="pixelsense ONNX models (default: the two shipped)")  # fmt: skip
    predict.add_argument("--photos", type=positive_int, default=2000, help="JPEG photos (default: 2000)")
    predict.add_argument("--arrays", type=positive_int, default=100_000,
                         help="images in the .npy and IDX files (default: 100,000)")  # fmt: skip
    predict.add_argument("--workers", type=positive_int, default=cores(),
                         help=f"predict.py --workers (default: the {cores()} cores)")  # fmt: skip
    predict.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds (default: 3)")
    data_options(predict)
    args = parser.parse_args(argv)

    from pixelsense.train.checks import MAX_ROUNDS

    if args.rounds > MAX_ROUNDS:
        raise PixelsenseError(f"--rounds must be at most {MAX_ROUNDS:,}; the median of a few is steady.")
    for option in ("threads", "workers"):  # all would start, and the bench would measure their contention
        if getattr(args, option, 1) > cores():
            raise PixelsenseError(f"--{option} must be at most {cores()}, the cores of this machine.")
    if_stopped("nothing was written")
    print("\n".join(_run_bench(args)))
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
                "where an epoch's time goes (median of each phase; fit.py's epoch end: checkpoints, logging)",
                train.phase_table(results), f"lightning_overhead={worst:.2f}"]  # fmt: skip
    if args.bench == "data":
        from pixelsense.bench import data

        result = data.measure(args.data_dir, args.download, args.rounds, args.model)
        return [f"{result['images']:,} training images, {args.model} recipe (batch {result['batch_size']}), "
                f"median of {args.rounds} alternating rounds after 1 warm-up, on {result['device']}",
                data.table(result), f"data_path_speedup={result['speedup']:.1f}"]  # fmt: skip
    if args.bench == "predict":
        from pixelsense.bench import predict

        sizes = (args.photos, args.arrays, args.rounds, args.workers)
        rows = predict.measure(args.models, args.data_dir, args.download, *sizes)
        folder = min(1 / r["ratio"] for r in rows if r["reference"] == "naive")
        engine = max(r["ratio"] for r in rows if r["reference"] == "onnxruntime")
        return [f"median of {args.rounds} alternating rounds after 1 warm-up, {cores()} cores; ratio = "
                "predict.py time / reference time", predict.table(rows),
                f"folder_vs_naive_decode={folder:.2f}", f"predict_vs_engine={engine:.2f}"]  # fmt: skip
    from pixelsense.bench import inference

    results = inference.compare(args.ckpt, args.threads, args.rounds)
    network = args.ckpt or "CNN of the default recipe"
    return [f"{network}, {args.threads} threads, median of {args.rounds} alternating rounds",
            inference.table(results), f"ort_vs_torch_speedup={results[-1]['speedup']:.2f}"]  # fmt: skip
