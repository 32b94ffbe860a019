"""``bench.py data``: one epoch of training batches made ready on the device (normalised, augmented as the
recipe says), without the model, by the DataModule and by the conventional torchvision pipeline
(``datasets.FashionMNIST`` with ``transforms`` in a ``DataLoader``); then a whole ANN training epoch fed by
each, so the difference reads in training time."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Subset

from pixelsense.bench import alternate, device_name
from pixelsense.bench.bare import BareLoop
from pixelsense.constants import MEAN, STD
from pixelsense.train.config import FitConfig
from pixelsense.train.hardware import hardware
from pixelsense.train.run import build

WORKERS = (0, 2)  # DataLoader worker processes tried for torchvision; its faster figure counts


def torchvision_loader(cfg, size: int, workers: int, device: torch.device) -> DataLoader:
    """What the torchvision tutorials build: PIL images through transforms, collated by a DataLoader."""
    from torchvision import datasets, transforms

    steps = [transforms.RandomHorizontalFlip()] if cfg.flip else []
    if cfg.translate:
        steps.append(transforms.RandomCrop(28, padding=cfg.translate))  # a shift of up to ±translate px
    steps += [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
    full = datasets.FashionMNIST(cfg.data_dir, train=True, transform=transforms.Compose(steps))
    return DataLoader(
        Subset(full, range(size)), batch_size=cfg.batch_size, shuffle=True, num_workers=workers,
        pin_memory=device.type == "cuda",
    )  # fmt: skip


def on_device(loader: DataLoader, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def ready(data, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An epoch of the DataModule's training batches, as the network gets them."""
    for x, y in data.batches(data.train_set, True, device):
        yield data.model_input(x, augment=True), y


def drain(batches) -> None:
    for _ in batches:
        pass


def measure(data_dir: str, download: bool, rounds: int, model: str = "cnn") -> dict:
    """Median seconds per epoch of each data path (``model``'s recipe: batch size and augmentation), and
    of an ANN training epoch fed by the DataModule and by the faster torchvision loader."""
    cfg, data = _data(model, data_dir, download)
    accelerator, precision = hardware(cfg.accelerator, cfg.precision)
    device = torch.device("cpu" if accelerator == "cpu" else "cuda")
    size = len(data.train_set)

    loaders = {w: torchvision_loader(cfg, size, w, device) for w in WORKERS}
    sides = {"pixelsense": lambda: drain(ready(data, device))}
    sides |= {f"torchvision, {w} workers": lambda w=w: drain(on_device(loaders[w], device)) for w in WORKERS}
    seconds = alternate(sides, rounds, device)
    best = min(WORKERS, key=lambda w: seconds[f"torchvision, {w} workers"])

    ann, ann_data = _data("ann", data_dir, download=False)
    steps = math.ceil(size / ann.batch_size) * (2 * rounds + 2)
    loop = BareLoop(ann, ann_data.train_set, ann_data.val_set, device, precision, steps)
    ann_loader = torchvision_loader(ann, size, best, device)
    epochs = {
        "pixelsense": lambda: loop.train_epoch(ready(ann_data, device)),
        f"torchvision, {best} workers": lambda: loop.train_epoch(on_device(ann_loader, device)),
    }
    ann_seconds = alternate(epochs, rounds, device)
    return {
        "device": device_name(device), "model": model, "batch_size": cfg.batch_size, "images": size,
        "rounds": rounds, "seconds": seconds, "best_workers": best, "ann_epoch": ann_seconds,
        "speedup": seconds[f"torchvision, {best} workers"] / seconds["pixelsense"],
    }  # fmt: skip


def _data(model: str, data_dir: str, download: bool):
    cfg = FitConfig(model=model, data_dir=data_dir, download=download).resolved()
    _, data = build(cfg)
    data.prepare_data()
    data.setup("fit")
    return cfg, data


def table(result: dict) -> str:
    lines = [f"{'data path (one epoch of ready batches)':<42} {'seconds':>8} {'images/s':>10}"]
    for side, s in result["seconds"].items():
        lines.append(f"{side:<42} {s:>8.3f} {result['images'] / s:>10,.0f}")
    lines += ["", f"{'ANN training epoch fed by':<42} {'seconds':>8}"]
    lines += [f"{side:<42} {s:>8.3f}" for side, s in result["ann_epoch"].items()]
    return "\n".join(lines)
