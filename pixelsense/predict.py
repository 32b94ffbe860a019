"""Batch inference with onnxruntime over images, folders, globs, IDX files and .npy arrays.

Imports onnxruntime, numpy and Pillow only (no torch): ``python scripts/predict.py --model M.onnx INPUT...``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pixelsense.files import atomic_path
from pixelsense.inputs import Chunk, Failure, NoInputs, expand, read_all

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class ModelError(Exception):
    """The model cannot be used; the message says why."""


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
    inputs, outputs = session.get_inputs(), [o.name for o in session.get_outputs()]
    ok = len(inputs) == 1 and inputs[0].type == "tensor(uint8)" and list(inputs[0].shape[1:]) == [1, 28, 28]
    classes = json.loads(session.get_modelmeta().custom_metadata_map.get("classes", "[]"))
    if not ok or inputs[0].name != "images" or "probabilities" not in outputs or len(classes) != 10:
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


def _rows(probabilities: np.ndarray, sources: list[str], classes: list[str], topk: int) -> Iterator[dict]:
    order = np.argsort(-probabilities, axis=1)[:, : max(1, topk)]
    for source, probs, best in zip(sources, probabilities, order, strict=True):
        row = {"source": source, "label": int(best[0]), "class": classes[best[0]],
               "confidence": round(float(probs[best[0]]), 6)}  # fmt: skip
        for rank, index in enumerate(best[1:], start=2):
            row |= {f"top{rank}_label": int(index), f"top{rank}_class": classes[index],
                    f"top{rank}_confidence": round(float(probs[index]), 6)}  # fmt: skip
        yield row


def load_labels(path: str) -> dict[str, int] | list[int]:
    """Labels from an IDX label file, a .npy of ints (both in output order) or a CSV ``file,label``."""
    import gzip

    name = path.lower()
    if name.endswith(".csv"):
        with open(path, newline="") as f:
            return {r[0]: int(r[1]) for r in csv.reader(f) if len(r) >= 2 and r[1].strip().isdigit()}
    if name.endswith(".npy"):
        return [int(v) for v in np.load(path, allow_pickle=False).reshape(-1)]
    with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x00\x00\x08\x01":
        raise ValueError("not an IDX label file")
    return list(np.frombuffer(data[8:], np.uint8).astype(int))


def run(args: argparse.Namespace) -> int:
    session, classes = open_model(args.model, args.provider, args.threads)
    labels = load_labels(args.labels) if args.labels else None
    stream = batches(read_all(expand(args.inputs), args.batch_size, args.invert), args.batch_size)
    done, failed, start = 0, 0, time.perf_counter()
    predictions: list[tuple[str, int]] = []
    text = io.StringIO() if args.output else sys.stdout
    writer = None
    for item in stream:
        if isinstance(item, Failure):
            failed += 1
            print(f"predict.py: {item.source}: {item.reason}", file=sys.stderr)
            continue
        (probabilities,) = session.run(["probabilities"], {"images": item.images[:, None]})
        for row in _rows(probabilities, item.sources, classes, args.topk):
            if args.format == "jsonl":
                text.write(json.dumps(row) + "\n")
            else:
                writer = writer or csv.DictWriter(text, fieldnames=list(row), lineterminator="\n")
                if done == 0:
                    writer.writeheader()
                writer.writerow(row)
            predictions.append((row["source"], row["label"]))
            done += 1
        if sys.stderr.isatty():
            print(f"\rpredict.py: {done} images", end="", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    if args.output:
        with atomic_path(args.output) as tmp:
            tmp.write_text(text.getvalue())
    end_progress = "\n" if sys.stderr.isatty() else ""
    rate = done / max(seconds, 1e-9)
    print(f"{end_progress}predict.py: {done} images done, {failed} failed, {rate:.0f} img/s", file=sys.stderr)
    if labels is not None:
        _report_accuracy(predictions, labels, classes)
    return 1 if failed else 0


def _report_accuracy(predictions: list[tuple[str, int]], labels, classes: list[str]) -> None:
    if isinstance(labels, dict):
        pairs = [(labels.get(src, labels.get(Path(src).name)), pred) for src, pred in predictions]
    else:
        pairs = list(zip(labels, (p for _, p in predictions), strict=False))
    pairs = [(t, p) for t, p in pairs if t is not None]
    if not pairs:
        print("accuracy: no predictions matched a label", file=sys.stderr)
        return
    true, pred = np.array(pairs).T
    print(f"accuracy: {(true == pred).mean():.4f} ({len(pairs)} labelled images)")
    for index, name in enumerate(classes):
        mask = true == index
        if mask.any():
            print(f"  {name:<12} {(pred[mask] == index).mean():.4f} ({mask.sum()} images)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Classify Fashion-MNIST-style images with a pixelsense ONNX model."
    )
    parser.add_argument("--model", required=True, help="a .onnx file exported by pixelsense")
    parser.add_argument("inputs", nargs="*", help="image files, folders, globs, IDX image files, .npy arrays")
    parser.add_argument(
        "--batch-size", type=int, default=256, help="images per onnxruntime call (default: 256)"
    )
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--output", help="write here (whole or not at all) instead of stdout")
    parser.add_argument("--topk", type=int, default=1, help="also give the K best classes (default: 1)")
    parser.add_argument("--labels", help="true labels: IDX labels, .npy, or CSV file,label; prints accuracy")
    parser.add_argument("--invert", action="store_true", help="images are dark clothes on a light background")
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: onnxruntime's)")
    parser.add_argument("--provider", choices=tuple(PROVIDERS), default="cpu")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ModelError, NoInputs) as err:
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:  # the --labels file or the --output path
        print(f"predict.py: error: {err}; check --labels and --output.", file=sys.stderr)
        return 2
