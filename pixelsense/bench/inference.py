"""``bench.py inference``: onnxruntime against eager PyTorch on the same network, same threads; rounds
alternate between the two engines (``pixelsense.bench.alternate``)."""

from __future__ import annotations

import torch

from pixelsense.bench import alternate
from pixelsense.train.checkpoints import load_checkpoint
from pixelsense.train.export import Deployable, ort_session
from pixelsense.train.module import Classifier

BATCH_SIZES = (1, 32, 256)
IMAGES_PER_ROUND = 2048  # each round classifies about this many images, whatever the batch size


def compare(ckpt: str | None, threads: int, rounds: int = 5) -> list[dict]:
    """Per batch size: img/s of eager torch and of onnxruntime, for the checkpoint's network (or a CNN of
    the default recipe with random weights: speed does not depend on the weights)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _compare(ckpt, threads, rounds)
    finally:
        torch.set_num_threads(before)  # a caller's later work is not changed by a bench


def _compare(ckpt: str | None, threads: int, rounds: int) -> list[dict]:
    torch.manual_seed(0)
    model = load_checkpoint(ckpt) if ckpt else Classifier(arch="cnn").eval()
    eager = Deployable(model.net).eval()
    images = torch.randint(0, 256, (max(BATCH_SIZES), 28, 28), dtype=torch.uint8)
    session = ort_session(model, images, threads)
    results = []
    for size in BATCH_SIZES:
        batch = images[:size, None]
        feed = {"images": batch.numpy()}
        repeats = max(1, IMAGES_PER_ROUND // size)
        runs = {
            "torch": lambda b=batch, n=repeats: [eager(b) for _ in range(n)],
            "onnxruntime": lambda f=feed, n=repeats: [session.run(["probabilities"], f) for _ in range(n)],
        }
        with torch.inference_mode():
            seconds = alternate(runs, rounds, torch.device("cpu"))
        row = {"batch": size, **{name: size * repeats / s for name, s in seconds.items()}}
        row["speedup"] = row["onnxruntime"] / row["torch"]
        results.append(row)
    return results


def table(results: list[dict]) -> str:
    lines = [f"{'batch':>5} {'torch img/s':>12} {'onnxruntime img/s':>18} {'speedup':>8}"]
    lines += [
        f"{r['batch']:>5} {r['torch']:>12.0f} {r['onnxruntime']:>18.0f} {r['speedup']:>7.2f}x"
        for r in results
    ]
    return "\n".join(lines)
