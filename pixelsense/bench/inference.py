"""onnxruntime vs eager PyTorch on the same network, measured side by side in one run.

Rounds alternate between the two engines so that noise from a shared machine hits both alike; each
engine's figure is the median round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from pixelsense.export import Deployable, load_checkpoint, ort_session
from pixelsense.module import Classifier

BATCH_SIZES = (1, 32, 256)
IMAGES_PER_ROUND = 2048  # each round classifies about this many images, whatever the batch size


def _seconds(call: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def compare(ckpt: str | None, threads: int, rounds: int = 5) -> list[dict]:
    """Per batch size: img/s of eager torch and of onnxruntime, for the checkpoint's network (or a CNN of
    the default recipe with random weights: speed does not depend on the weights)."""
    torch.set_num_threads(threads)
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
        with torch.inference_mode():
            runs = {
                "torch": lambda b=batch: eager(b),
                "onnxruntime": lambda f=feed: session.run(["probabilities"], f),
            }
            for call in runs.values():
                call()  # warm-up
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(rounds):
                for name, call in runs.items():
                    times[name].append(_seconds(call, repeats))
        row = {"batch": size, **{name: size / statistics.median(t) for name, t in times.items()}}
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
