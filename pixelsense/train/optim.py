"""The optimiser and the learning-rate schedules every run trains with (fit.py's module and the bench's bare
loop alike)."""

from __future__ import annotations

import math

import torch
from torch import nn


def optimizer_and_schedule(
    net: nn.Module, lr: float, weight_decay: float, schedule: str, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (weight decay on weights only, not on biases or norms) and the per-step learning-rate schedule.

    The schedule is a function of (step, total) recomputed from this run's total, so --resume with more
    epochs stretches it instead of overrunning a stored step count. The fused AdamW kernel does one pass
    over all parameters: 1.6-3.5x faster than the per-tensor loop on a 2-core CPU, one launch on a GPU.
    """
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
    shape = one_cycle if schedule == "onecycle" else cosine
    total = max(1, total_steps)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: shape(step / total))


def cosine(progress: float) -> float:
    """Learning-rate factor: 1 at the start, cosine down to 0 at the end."""
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def one_cycle(progress: float, warmup: float = 0.3, start: float = 1 / 25) -> float:
    """Learning-rate factor: cosine up from ``start`` to 1 over ``warmup``, then cosine down to 0
    (the shape of torch's OneCycleLR)."""
    if progress < warmup:
        return start + (1.0 - start) * (1.0 - cosine(progress / warmup))
    return cosine((progress - warmup) / (1.0 - warmup))
