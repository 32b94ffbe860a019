"""The reference for a training loop: a bare PyTorch loop, written as a careful user would write it, over
the same network, batches, augmentation, optimiser and schedule as ``fit.py``, with no Lightning."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

from pixelsense.train.config import FitConfig
from pixelsense.train.data import TensorImages, eval_batch_size, normalize
from pixelsense.train.nets import build_net
from pixelsense.train.optim import optimizer_and_schedule

Batch = tuple[Tensor, Tensor]


class BareLoop:
    """``epoch()`` trains one epoch and returns the validation accuracy; the data stay on ``device``."""

    def __init__(self, cfg: FitConfig, train: TensorImages, val: TensorImages, device: torch.device,
                 precision: str, total_steps: int) -> None:  # fmt: skip
        self.cfg, self.device = cfg, device
        self.net = build_net(cfg.model, cfg.channels, cfg.hidden, cfg.dropout, cfg.permute_pixels).to(device)
        self.loss = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.optimizer, self.schedule = optimizer_and_schedule(
            self.net, cfg.lr, cfg.weight_decay, cfg.schedule, total_steps
        )
        self.train, self.val = train.to(device), val.to(device)
        self.bf16 = precision.startswith("bf16")

    def inputs(self) -> Iterator[Batch]:
        """One shuffled epoch of network inputs: a permutation, then slices of the uint8 tensors,
        normalised and augmented on the device."""
        images, labels, size = self.train.images, self.train.labels, self.cfg.batch_size
        order = torch.randperm(len(labels), device=self.device)
        for start in range(0, len(order), size):
            index = order[start : start + size]
            yield normalize(images[index], self.cfg.flip, self.cfg.translate), labels[index]

    def train_epoch(self, batches: Iterable[Batch] | None = None) -> None:
        """One epoch of training over ``batches`` of ready inputs (default: ``inputs()``)."""
        self.net.train()
        for x, y in self.inputs() if batches is None else batches:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
                loss = self.loss(self.net(x), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()

    @torch.no_grad()
    def validate(self) -> float:
        self.net.eval()
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        size = eval_batch_size(self.device)  # fit.py's
        for start in range(0, len(self.val), size):
            window = slice(start, start + size)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
                logits = self.net(normalize(self.val.images[window]))
            correct += (logits.argmax(1) == self.val.labels[window]).sum()
        return correct.item() / len(self.val)

    def epoch(self) -> float:
        self.train_epoch()
        return self.validate()
