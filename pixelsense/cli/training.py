"""The commands that get data and train: get_data, fit, compare and explain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixelsense.cli.command import command
from pixelsense.cli.fit_options import parse_config
from pixelsense.cli.options import Parser, measuring_options, number, path
from pixelsense.errors import PixelsenseError
from pixelsense.signals import if_stopped
from pixelsense.train.config import FitConfig

# What compare.py and explain.py leave when stopped.
KEPT_RUNS = "the finished runs are kept, and the next run takes them as they are; nothing was half-written"


@command("get_data.py", writes="--data-dir")
def get_data_main(argv: list[str] | None = None) -> int:
    """``python scripts/get_data.py``: put verified Fashion-MNIST in <data-dir>/FashionMNIST/raw/."""
    from pixelsense.train.sources import ensure_fashion_mnist

    parser = Parser(description=get_data_main.__doc__)
    parser.add_argument("--data-dir", type=path, default="data", help="where the data goes (default: data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    raw = ensure_fashion_mnist(args.data_dir, download=args.download)
    print(f"Fashion-MNIST ready in {raw} (SHA-256 verified)")
    return 0


@command("fit.py", writes=True)  # the option whose folder it is (train.checks.folder_problems)
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


@command("compare.py", writes=True)
def compare_main(argv: list[str] | None = None) -> int:
    """``python scripts/compare.py``: the ANN against the CNN, as report.md, figures and report.json files."""
    parser = Parser(description="Compare the ANN and the CNN on the official test set: train them (or take "
                    "checkpoints) and write a report.")  # fmt: skip
    parser.add_argument(
        "--seeds", type=number("seeds"), help="runs to train per model, seeds 0..N-1 (default: 1)"
    )
    parser.add_argument(
        "--ann", type=path, nargs="+", metavar="CKPT", help="ANN checkpoints to use instead of training"
    )
    parser.add_argument(
        "--cnn", type=path, nargs="+", metavar="CKPT", help="CNN checkpoints to use instead of training"
    )
    parser.add_argument("--output-dir", type=path, default="reports/compare", help="default: reports/compare")
    measuring_options(parser, "the img/s column")
    args = parser.parse_args(argv)
    if bool(args.ann) != bool(args.cnn):
        parser.error("give both --ann and --cnn, or neither to train both models")
    if args.ann and args.seeds is not None:
        parser.error("--seeds trains new runs; drop it when you pass --ann and --cnn checkpoints")

    from pixelsense.files import check_not_input, output_folder
    from pixelsense.study.compare import FILES, check_checkpoints, evaluate_runs, write_comparison
    from pixelsense.study.summary import conclusion
    from pixelsense.train.data import official_test_set

    output_folder("--output-dir", args.output_dir)  # refused now, not after the runs
    for sub in ("ann", "cnn"):  # the report's own folders
        output_folder("--output-dir", Path(args.output_dir) / sub)

    if_stopped(KEPT_RUNS)
    if args.ann:
        ckpts = {"ann": args.ann, "cnn": args.cnn}
        for name in FILES:  # a checkpoint named ann/report.json in --output-dir would become the report
            check_not_input(
                Path(args.output_dir) / name, [*args.ann, *args.cnn], "--output-dir", "a checkpoint"
            )
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


@command("explain.py", writes=True)
def explain_main(argv: list[str] | None = None) -> int:
    """``python scripts/explain.py``: the controlled experiments behind "why the CNN wins"."""
    parser = Parser(
        description="Why the CNN wins: train the controlled experiments that are missing (pixel "
        "permutation, same augmentation), measure, and write why.md, why.json and the figures."
    )
    parser.add_argument(
        "--seeds", type=number("seeds"), default=2, help="runs per experiment, seeds 0..N-1 (default: 2)"
    )
    parser.add_argument("--quick", action="store_true",
                        help="every run 1 epoch: all the files in minutes, numbers meaningless")  # fmt: skip
    parser.add_argument("--output-dir", type=path, default="reports/why", help="default: reports/why")
    parser.add_argument("--compare-dir", type=path, default="reports/compare",
                        help="reuse compare.py runs found here (default: reports/compare)")  # fmt: skip
    measuring_options(parser, "the measurements")
    args = parser.parse_args(argv)

    from pixelsense.files import destination, output_folder
    from pixelsense.study.explain import FILES, explain

    output_folder("--output-dir", args.output_dir)  # refused now, not after the runs
    destination("--compare-dir", args.compare_dir)  # where it trains the runs it does not find

    if_stopped(KEPT_RUNS)
    command_line = " ".join(["python scripts/explain.py", *(sys.argv[1:] if argv is None else argv)])
    why = explain(args.seeds, args.output_dir, args.data_dir, args.download, args.quick, [args.compare_dir],
                  args.threads, command_line, lambda line: print(f"explain: {line}", flush=True))  # fmt: skip
    print("\n".join(why["conclusion"]))
    print(f"wrote {', '.join(FILES)} to {why['output_dir']}")
    return 0
