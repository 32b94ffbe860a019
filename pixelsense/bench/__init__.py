"""Benchmarks: pixelsense against what a user would otherwise write or use, both sides measured in one
process (``python scripts/bench.py {train,data,inference,predict}``; ``predict`` needs no torch).

Rounds alternate between the sides after a warm-up, so that noise from a shared machine hits both alike;
a side's figure is its median round. Each benchmark ends with one ``name=R`` line.

Needs ``pip install "pixelsense[train]"`` (``predict`` alone runs on the light install). May import ``study``,
``train``, ``infer`` and the ground, never ``cli``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def sync(device: torch.device | None) -> None:
    """Wait for the device's queued work, so the clock measures work done, not work launched."""
    if device is not None and device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def seconds(call: Callable[[], object], device: torch.device | None = None) -> float:
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start


def alternate(
    sides: dict[str, Callable[[], object]], rounds: int, device: torch.device | None = None
) -> dict[str, float]:
    """Median seconds of each side over ``rounds`` alternating rounds, after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds + 1):
        for name, call in sides.items():
            times[name].append(seconds(call, device))
    return {name: statistics.median(t[1:]) for name, t in times.items()}


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"
