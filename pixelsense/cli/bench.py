"""``pixelsense-bench`` (``python scripts/bench.py``): each benchmark measures pixelsense against what a user
would otherwise run, both sides alternating in one run, and ends with one ``name=ratio`` line."""

from __future__ import annotations

import argparse

from pixelsense.cli.command import command
from pixelsense.cli.options import Parser, data_options, number, path
from pixelsense.infer.decoding import cores
from pixelsense.signals import if_stopped

BENCHES = ("train", "data", "inference", "predict", "serve")


@command("bench.py")
def bench_main(argv: list[str] | None = None) -> int:
    """``python scripts/bench.py {train,data,inference,predict,serve}``: pixelsense against its reference."""
    parser = Parser(description="Measure pixelsense against what a user would otherwise run, both sides "
                    "alternating in one process; the last line is name=ratio.")  # fmt: skip
    benches = parser.add_subparsers(
        dest="bench", required=True, metavar="{train,data,inference,predict,serve}"
    )
    train = benches.add_parser("train", help="fit.py's training epoch against a bare PyTorch loop")
    train.add_argument("--models", nargs="+", choices=("ann", "cnn"), default=["ann", "cnn"])
    data = benches.add_parser("data", help="the DataModule against torchvision's Dataset and DataLoader")
    data.add_argument("--model", choices=("ann", "cnn"), default="cnn",
                      help="whose recipe (batch, augmentation) the batches take (default: cnn)")  # fmt: skip
    for sub in (train, data):
        sub.add_argument(
            "--rounds", type=number("rounds"), default=5, help="measured epochs a side (default: 5)"
        )
        data_options(sub)
    inference = benches.add_parser("inference", help="onnxruntime against eager torch, same network")
    inference.add_argument(
        "--ckpt", type=path, help="a pixelsense checkpoint (default: the CNN recipe, random weights)"
    )
    inference.add_argument("--threads", type=number("threads"), default=cores(),
                           help="threads for both engines (default: all cores)")  # fmt: skip
    inference.add_argument(
        "--rounds", type=number("rounds"), default=5, help="alternating rounds per batch size"
    )
    predict = benches.add_parser("predict", help="predict.py against a naive loop and onnxruntime")
    predict.add_argument("--models", type=path, nargs="+",
                         default=["checkpoints/ann.onnx", "checkpoints/cnn.onnx"],
                         help="pixelsense ONNX models (default: the two shipped)")  # fmt: skip
    predict.add_argument("--photos", type=number("photos"), default=2000, help="JPEG photos (default: 2000)")
    predict.add_argument("--arrays", type=number("arrays"), default=100_000,
                         help="images in the .npy and IDX files (default: 100,000)")  # fmt: skip
    predict.add_argument("--workers", type=number("workers"), default=cores(),
                         help=f"predict.py --workers (default: the {cores()} cores)")  # fmt: skip
    predict.add_argument("--rounds", type=number("rounds"), default=3, help="alternating rounds (default: 3)")
    data_options(predict)
    serve = benches.add_parser("serve", help="pixelsense-serve against the textbook FastAPI endpoint")
    serve.add_argument(
        "--models",
        nargs="+",
        default=["checkpoints/ann.onnx", "checkpoints/cnn.onnx"],
        help="what pixelsense-serve answers with (default: the two shipped; the naive: the last)",
    )
    serve.add_argument(
        "--requests",
        type=number("requests"),
        default=3400,
        help="requests a side at each concurrency (default: 3,400: 10,200 for the memory)",
    )
    serve.add_argument("--rounds", type=number("rounds"), default=3, help="alternating rounds (default: 3)")
    data_options(serve)
    args = parser.parse_args(argv)

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
    if args.bench == "serve":
        from pixelsense.bench import serve

        result = serve.measure(args.models, args.data_dir, args.download, args.requests, args.rounds)
        said = (f"{args.requests:,} one-photo requests a side at each concurrency, {args.rounds} alternating "
                f"rounds after a warm-up, {cores()} cores; pixelsense answering {len(args.models)} models, "
                "the naive endpoint with one")  # fmt: skip
        return [said, serve.table(result), f"serve_vs_naive={result['ratio']:.2f}"]
    from pixelsense.bench import inference

    results = inference.compare(args.ckpt, args.threads, args.rounds)
    network = args.ckpt or "CNN of the default recipe"
    return [f"{network}, {args.threads} threads, median of {args.rounds} alternating rounds",
            inference.table(results), f"ort_vs_torch_speedup={results[-1]['speedup']:.2f}"]  # fmt: skip
