"""Batch inference with onnxruntime over images, folders, globs, IDX files and .npy arrays.

Imports onnxruntime, numpy and Pillow only (no torch): ``python scripts/predict.py --model M.onnx INPUT...``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE, NUM_CLASSES
from pixelsense.files import atomic_path
from pixelsense.inputs import Chunk, Failure, NoInputs, count, expand, read_all

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class ModelError(Exception):
    """The model cannot be used; the message says why."""


class LabelError(Exception):
    """The --labels file cannot be used; the message says why."""


def open_model(path: str, provider: str, threads: int | None):
    """An onnxruntime session for a pixelsense export, and its class names."""
    import onnxruntime as ort

    if PROVIDERS[provider] not in ort.get_available_providers():
        raise ModelError(f"the {provider} provider is not available in this onnxruntime "
                         f"({', '.join(ort.get_available_providers())}); use --provider cpu or install "
                         "onnxruntime-gpu.")  # fmt: skip
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(path, options, providers=[PROVIDERS[provider]])
    except Exception as err:  # onnxruntime reports missing and broken files alike
        raise ModelError(
            f"{path} cannot be loaded as an ONNX model ({str(err).splitlines()[0][:200]})."
        ) from None
    if session.get_providers()[0] != PROVIDERS[provider]:  # onnxruntime falls back silently otherwise
        raise ModelError(f"the {provider} provider failed to start; use --provider cpu.")
    inputs, outputs = session.get_inputs(), [o.name for o in session.get_outputs()]
    shape = list(inputs[0].shape) if inputs else []
    ok = len(inputs) == 1 and inputs[0].type == "tensor(uint8)" and shape[1:] == [1, IMAGE_SIZE, IMAGE_SIZE]
    ok = ok and not isinstance(shape[0], int)  # a dynamic batch dimension
    try:
        classes = json.loads(session.get_modelmeta().custom_metadata_map.get("classes", "[]"))
    except ValueError:
        classes = []
    if not ok or inputs[0].name != "images" or "probabilities" not in outputs or len(classes) != NUM_CLASSES:
        raise ModelError(f"{path} is not a pixelsense model (uint8 'images' [N, 1, 28, 28] in, "
                         "'probabilities' out, class names in its metadata); export one with "
                         "scripts/export.py.")  # fmt: skip
    return session, classes


def batches(stream: Iterator[Chunk | Failure], size: int) -> Iterator[Chunk | Failure]:
    """Regroup chunks into batches of ``size`` images; failures pass straight through."""
    sources: list[str] = []
    parts: list[np.ndarray] = []
    for item in stream:
        if isinstance(item, Failure):
            yield item
            continue
        start = 0
        while start < len(item.sources):
            take = min(size - len(sources), len(item.sources) - start)
            sources += item.sources[start : start + take]
            parts.append(item.images[start : start + take])
            start += take
            if len(sources) == size:
                yield Chunk(sources, np.concatenate(parts))
                sources, parts = [], []
    if sources:
        yield Chunk(sources, np.concatenate(parts))


def _fieldnames(topk: int) -> list[str]:
    extra = [f"top{k}_{c}" for k in range(2, topk + 1) for c in ("label", "class", "confidence")]
    return ["source", "label", "class", "confidence", *extra]


def _rows(probabilities: np.ndarray, sources: list[str], classes: list[str], topk: int) -> Iterator[dict]:
    """One row per image, keyed by ``_fieldnames(topk)``: the best class, then the next ``topk - 1``."""
    names = _fieldnames(topk)
    order = np.argsort(-probabilities, axis=1)[:, :topk]
    for source, probs, best in zip(sources, probabilities, order, strict=True):
        ranked = [v for i in best for v in (int(i), classes[i], round(float(probs[i]), 6))]
        yield dict(zip(names, [source, *ranked], strict=True))


def load_labels(path: str) -> dict[str, int] | list[int]:
    """Labels from an IDX label file, a .npy of ints (both in output order) or a CSV ``file,label``."""
    import gzip

    name = path.lower()
    labels: dict[str, int] | list[int]
    if name.endswith(".csv"):
        with open(path, newline="") as f:
            labels = {r[0]: int(r[1]) for r in csv.reader(f) if len(r) >= 2 and r[1].strip().isdigit()}
        values = list(labels.values())
    elif name.endswith(".npy"):
        try:
            values = labels = [int(v) for v in np.load(path, allow_pickle=False).reshape(-1)]
        except (ValueError, EOFError) as err:
            raise LabelError(f"{path} is not a plain .npy array of labels ({err}).") from None
    else:
        with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x00\x00\x08\x01":
            raise LabelError(f"{path} is not an IDX label file, a .npy of labels or a CSV file,label.")
        values = labels = list(np.frombuffer(data[8:], np.uint8).astype(int))
    if not values or min(values) < 0 or max(values) >= NUM_CLASSES:
        raise LabelError(f"{path} holds no labels in 0–{NUM_CLASSES - 1}; pass the true class indices.")
    return labels


def run(args: argparse.Namespace) -> int:
    session, classes = open_model(args.model, args.provider, args.threads)
    labels = load_labels(args.labels) if args.labels else None
    items = expand(args.inputs)
    total = count(items) if sys.stderr.isatty() else None  # a progress bar only where someone watches
    stream = batches(read_all(items, args.batch_size, args.invert), args.batch_size)
    if args.output:
        with atomic_path(args.output) as tmp, open(tmp, "w", newline="") as out:
            counts = _predict(stream, session, classes, args, out, total, keep=labels is not None)
    else:
        counts = _predict(stream, session, classes, args, sys.stdout, total, keep=labels is not None)
    done, failed, seconds, predictions = counts
    end_progress = "\n" if sys.stderr.isatty() else ""
    rate = done / max(seconds, 1e-9)
    print(f"{end_progress}predict.py: {done} images done, {failed} failed, {rate:.0f} img/s", file=sys.stderr)
    if labels is not None:
        # The accuracy report joins the table on stdout only when the table went to a file.
        _report_accuracy(predictions, labels, classes, sys.stdout if args.output else sys.stderr)
    return 1 if failed else 0


def _predict(
    stream, session, classes, args, out, total: int | None, keep: bool
) -> tuple[int, int, float, list[tuple[str, int]]]:
    """Run the batches and write the rows to ``out`` as they come (memory stays bounded)."""
    writer = csv.DictWriter(out, fieldnames=_fieldnames(args.topk), lineterminator="\n")
    if args.format == "csv":
        writer.writeheader()
    done, failed, start = 0, 0, time.perf_counter()
    predictions: list[tuple[str, int]] = []
    for item in stream:
        if isinstance(item, Failure):
            failed += 1
            clear = "\r\x1b[K" if total is not None else ""  # the failure replaces the progress line
            print(f"{clear}predict.py: {item.source}: {item.reason}", file=sys.stderr)
            continue
        (probabilities,) = session.run(["probabilities"], {"images": item.images[:, None]})
        for row in _rows(probabilities, item.sources, classes, args.topk):
            if args.format == "jsonl":
                out.write(json.dumps(row) + "\n")
            else:
                writer.writerow(row)
            if keep:
                predictions.append((row["source"], row["label"]))
            done += 1
        if total is not None:
            print("\r" + progress(done, failed, total, start), end="", file=sys.stderr, flush=True)
    return done, failed, time.perf_counter() - start, predictions


def progress(done: int, failed: int, total: int, start: float, width: int = 24) -> str:
    """One progress line: count, share, bar and speed (the total comes from the inputs' headers)."""
    rate = done / max(time.perf_counter() - start, 1e-9)
    share = min(done / total, 1.0) if total else 1.0
    bar = "█" * round(share * width) + "·" * (width - round(share * width))
    return f"predict.py: {share:4.0%} |{bar}| {done:,}/{total:,} images, {failed} failed, {rate:,.0f} img/s"


def _report_accuracy(predictions: list[tuple[str, int]], labels, classes: list[str], out) -> None:
    if isinstance(labels, dict):
        pairs = [(labels.get(src, labels.get(Path(src).name)), pred) for src, pred in predictions]
    elif len(labels) != len(predictions):
        print(f"accuracy: not computed: {len(labels)} labels for {len(predictions)} predictions "
              "(IDX and .npy labels follow the output order).", file=sys.stderr)  # fmt: skip
        return
    else:
        pairs = list(zip(labels, (p for _, p in predictions), strict=True))
    pairs = [(t, p) for t, p in pairs if t is not None]
    if not pairs:
        print("accuracy: no predictions matched a label", file=sys.stderr)
        return
    true, pred = np.array(pairs).T
    print(f"accuracy: {(true == pred).mean():.4f} ({len(pairs)} labelled images)", file=out)
    for index, name in enumerate(classes):
        mask = true == index
        if mask.any():
            print(f"  {name:<12} {(pred[mask] == index).mean():.4f} ({mask.sum()} images)", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Classify Fashion-MNIST-style images with a pixelsense ONNX model."
    )
    parser.add_argument("--model", required=True, help="a .onnx file exported by pixelsense")
    parser.add_argument("inputs", nargs="*", help="image files, folders, globs, IDX image files, .npy arrays")
    parser.add_argument(
        "--batch-size", type=positive_int, default=256, help="images per onnxruntime call (default: 256)"
    )
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--output", help="write here (whole or not at all) instead of stdout")
    parser.add_argument("--topk", type=int, choices=range(1, NUM_CLASSES + 1), metavar="K", default=1,
                        help="also give the K best classes, 1 to 10 (default: 1)")  # fmt: skip
    parser.add_argument("--labels", help="true labels: IDX labels, .npy, or CSV file,label; prints accuracy")
    parser.add_argument("--invert", action="store_true", help="images are dark clothes on a light background")
    parser.add_argument(
        "--threads", type=positive_int, help="onnxruntime intra-op threads (default: onnxruntime's)"
    )
    parser.add_argument("--provider", choices=tuple(PROVIDERS), default="cpu")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ModelError, NoInputs, LabelError) as err:
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the --labels file or the --output path
        print(f"predict.py: error: {err.filename}: {err.strerror or err}; check --labels and --output.",
              file=sys.stderr)  # fmt: skip
        return 2


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
