"""Fashion-MNIST as one LightningDataModule shared by the ANN and the CNN.

Each split stays one uint8 tensor, copied once to the Trainer's device (47 MB for the training images);
a batch is a slice of it, taken there. Conversion, augmentation (random horizontal flip, small random
translation) and normalisation run on the whole batch on the device, in ``on_after_batch_transfer``: no
per-sample Python, no worker processes and no host-to-device copy in the hot loop.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator

import pytorch_lightning as pl
import torch

from pixelsense.constants import CLASSES, IMAGE_SIZE, MEAN, STD
from pixelsense.train.config import RECIPES
from pixelsense.train.sources import DataError, ensure_fashion_mnist

__all__ = ["CLASSES", "IMAGE_SIZE", "MEAN", "STD", "FashionMNISTDataModule", "augment", "normalize"]

VAL_SIZE = 5000  # held out of the official 60k training images for validation
# Evaluation keeps no activations for a backward pass, so it takes bigger batches: fewer steps of per-batch
# overhead (Lightning's loop, the metric updates) for the same images. On a GPU that overhead is host time
# that the device waits through (about 2 ms a validation batch on an H100 machine), so the whole 5000-image
# validation split is one batch there (the CNN's two largest activations for it: 0.5 GB in bf16, 1 GB in
# float32); a CPU is busy computing anyway, and smaller batches stay in its caches.
EVAL_BATCH_SIZE = {"cpu": 1024, "cuda": 5000}

# Training batches handed to one Lightning training step, each its own optimizer step: Lightning's fixed
# cost a step (its loop, hooks and callbacks: about 2 ms on a GPU machine's CPU, more than a CNN step's GPU
# work) is then paid once for this many optimizer steps. The batches, their order and every random draw are
# the same as one batch a step.
STEPS_PER_CALL = 8
_CNN = RECIPES["cpu"]["cnn"]


def seed_of(*key: object) -> int:
    """A generator seed that is a pure function of ``key`` (e.g. ("order", seed, epoch)): the same on every
    machine and Python, and unrelated for different keys."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # torch takes seeds below 2**63


def eval_batch_size(device: torch.device) -> int:
    """Images per validation or test batch on ``device``."""
    return EVAL_BATCH_SIZE.get(device.type, EVAL_BATCH_SIZE["cpu"])


class TensorImages:
    """uint8 images ``[N, 28, 28]`` and int64 labels, kept as two tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images.contiguous()
        self.labels = labels.long().contiguous()

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> TensorImages:
        """The same split on ``device`` (itself when it is already there)."""
        if self.images.device == device:
            return self
        return TensorImages(self.images.to(device), self.labels.to(device))


class EpochOrder:
    """Which images of a split one rank visits in an epoch, and in what order.

    Shuffled, the order is a permutation drawn from (seed, epoch) alone, so a resumed run sees the same
    batches and two seeds never share an epoch's order; under DDP the permutation is padded to a multiple
    of the world size and each rank takes every ``world``-th image (as ``DistributedSampler`` does). In
    order, rank ``r`` takes ``r, r + world, ...``: every image exactly once, as evaluation needs. Lightning
    calls ``set_epoch`` before each epoch.
    """

    def __init__(self, size: int, shuffle: bool, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.size, self.shuffle, self.seed, self.rank, self.world = size, shuffle, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.shuffle:
            return math.ceil(self.size / self.world)
        return len(range(self.rank, self.size, self.world))

    def indices(self) -> torch.Tensor | None:
        """This epoch's indices (None: all of them, in order)."""
        if not self.shuffle:
            return None if self.world == 1 else torch.arange(self.rank, self.size, self.world)
        generator = torch.Generator().manual_seed(seed_of("order", self.seed, self.epoch))
        order = torch.randperm(self.size, generator=generator)
        if self.world > 1:
            order = torch.cat([order, order[: len(self) * self.world - self.size]])[self.rank :: self.world]
        return order


class Steps:
    """Consecutive training batches (uint8 images, labels) for one Lightning training step, one optimizer
    step each, and the ``transform`` that makes a batch a network input. The module applies it to a batch
    only when that batch's turn comes, so the augmentation's random draws interleave with the network's
    (dropout) exactly as they do with one batch a step."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], transform=None) -> None:
        self.batches, self.transform = batches, transform

    def __len__(self) -> int:
        return len(self.batches)


class Batches:
    """The batches of one epoch over a split: (uint8 images, labels) sliced from tensors that stay where
    they are, on the CPU or on the GPU. No worker processes, no per-sample indexing, no collation, no
    host-to-device copy per step; a shuffled batch is one gather on the device."""

    def __init__(self, split: TensorImages, batch_size: int, sampler: EpochOrder) -> None:
        self.split, self.batch_size = split, batch_size
        # A DataLoader's two attribute names: Lightning calls sampler.set_epoch and reads batch_sampler.
        self.sampler, self.batch_sampler = sampler, None

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.split.images, self.split.labels
        order = self.sampler.indices()
        if order is None:  # contiguous slices: views, no copy at all
            for start in range(0, len(labels), self.batch_size):
                yield images[start : start + self.batch_size], labels[start : start + self.batch_size]
            return
        order = order.to(labels.device)  # one small copy per epoch
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield images[index], labels[index]


class TrainingBatches(Batches):
    """An epoch's training batches in groups of ``STEPS_PER_CALL`` (``Steps``), one group a Lightning step.
    ``steps`` is the number of batches (optimizer steps) in the epoch; ``len()`` counts the groups."""

    def __len__(self) -> int:
        return math.ceil(self.steps / STEPS_PER_CALL)

    @property
    def steps(self) -> int:
        return super().__len__()

    def __iter__(self) -> Iterator[Steps]:
        group: list[tuple[torch.Tensor, torch.Tensor]] = []
        for batch in super().__iter__():
            group.append(batch)
            if len(group) == STEPS_PER_CALL:
                yield Steps(group)
                group = []
        if group:
            yield Steps(group)


def normalize(images: torch.Tensor, flip: bool = False, translate: int = 0) -> torch.Tensor:
    """uint8 pixels ``[N, 28, 28]`` or ``[N, 1, 28, 28]`` → normalised float ``[N, 1, 28, 28]``.

    Augmentation, when asked for, runs on the [0, 1] pixels so translation fills with black.
    """
    x = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).float() / 255.0
    x = augment(x, flip, translate)
    return (x - MEAN) / STD


def augment(x: torch.Tensor, flip: bool, translate: int) -> torch.Tensor:
    """Per-sample random horizontal flip and translation by up to ``translate`` pixels (zero fill).

    ``x`` is ``[N, C, H, W]``; every sample gets its own draw, computed for the batch at once.
    """
    n, _, h, w = x.shape
    if flip:
        flipped = torch.rand(n, device=x.device) < 0.5
        x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
    if translate > 0:
        # One flat gather per sample from the zero-padded batch: each sample reads its own window.
        k = translate
        padded = torch.nn.functional.pad(x, (k, k, k, k)).reshape(n * x.shape[1], -1)
        dy, dx = torch.randint(0, 2 * k + 1, (2, n, 1, 1), device=x.device)
        rows = torch.arange(h, device=x.device)[:, None] + dy
        cols = torch.arange(w, device=x.device)[None, :] + dx
        index = (rows * (w + 2 * k) + cols).reshape(n, -1).repeat_interleave(x.shape[1], dim=0)
        x = padded.gather(1, index).reshape(x.shape)
    return x


class FashionMNISTDataModule(pl.LightningDataModule):
    """55k train / 5k validation (seeded split of the official 60k) and the untouched 10k test set."""

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = _CNN["batch_size"],  # the defaults: the CNN's CPU recipe (config.RECIPES)
        eval_batch_size: int | None = None,  # None: by device (EVAL_BATCH_SIZE)
        seed: int = 0,
        val_size: int = VAL_SIZE,
        flip: bool = _CNN["flip"],
        translate: int = _CNN["translate"],
        download: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_set: TensorImages | None = None
        self.val_set: TensorImages | None = None
        self.test_set: TensorImages | None = None

    def prepare_data(self) -> None:
        ensure_fashion_mnist(self.hparams.data_dir, download=self.hparams.download)

    def setup(self, stage: str | None = None) -> None:
        # Idempotent: the split depends only on the seed, and loading happens once.
        from torchvision.datasets import FashionMNIST

        root = os.fspath(self.hparams.data_dir)
        if stage in (None, "fit", "validate") and self.train_set is None:
            ensure_fashion_mnist(root, download=False)  # every DDP rank checks what it reads
            full = FashionMNIST(root, train=True)
            generator = torch.Generator().manual_seed(self.hparams.seed)
            order = torch.randperm(len(full.targets), generator=generator)
            val_idx, train_idx = order[: self.hparams.val_size], order[self.hparams.val_size :]
            self.train_set = TensorImages(full.data[train_idx], full.targets[train_idx])
            self.val_set = TensorImages(full.data[val_idx], full.targets[val_idx])
        if stage in (None, "test", "predict") and self.test_set is None:
            ensure_fashion_mnist(root, download=False)
            test = FashionMNIST(root, train=False)
            self.test_set = TensorImages(test.data, test.targets)

    def _loader(self, split: TensorImages | None, shuffle: bool, kind: type[Batches] = Batches) -> Batches:
        """Batches of ``split`` from its copy on the Trainer's device. Under DDP each rank
        reads its own shard; evaluation shards are not padded, so every image is counted exactly once."""
        if split is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        strategy = getattr(trainer, "strategy", None)
        device = strategy.root_device if strategy is not None else torch.device("cpu")
        return self.batches(split, shuffle, device, rank, world, kind)

    def batches(self, split: TensorImages, shuffle: bool, device: torch.device, rank: int = 0,
                world: int = 1, kind: type[Batches] = Batches) -> Batches:  # fmt: skip
        """The batches of ``split`` (one of this module's sets) for ``rank`` of ``world``, on ``device``."""
        order = EpochOrder(len(split), shuffle, self.hparams.seed, rank, world)
        size = self.hparams.batch_size if shuffle else self.hparams.eval_batch_size
        return kind(split.to(device), size or eval_batch_size(device), order)

    def train_dataloader(self) -> TrainingBatches:
        return self._loader(self.train_set, shuffle=True, kind=TrainingBatches)

    def val_dataloader(self) -> Batches:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> Batches:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> Batches:
        return self._loader(self.test_set, shuffle=False)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # Batches are born on the device; Lightning's generic move would walk them at every step.
        if isinstance(batch, Steps) or (isinstance(batch, tuple) and all(t.device == device for t in batch)):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, torch.Tensor):
            return batch  # the model summary's example_input_array: already a model input
        training = self.trainer is not None and self.trainer.training
        if isinstance(batch, Steps):  # training: the module makes each batch an input when it reaches it
            return Steps(batch.batches, lambda images: self.model_input(images, augment=training))
        images, labels = batch
        return self.model_input(images, augment=training), labels

    def model_input(self, images: torch.Tensor, augment: bool) -> torch.Tensor:
        """uint8 images → the normalised network input, augmented as the recipe says when ``augment``."""
        if augment:
            return normalize(images, self.hparams.flip, self.hparams.translate)
        return normalize(images)


def official_test_set(
    data_dir: str | os.PathLike, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The verified official test set: uint8 images ``[10000, 28, 28]`` and their labels."""
    from torchvision.datasets import FashionMNIST

    try:
        ensure_fashion_mnist(data_dir, download=download)
        test = FashionMNIST(str(data_dir), train=False)
    except OSError as err:  # a --data-dir that cannot be read or made
        raise DataError(f"{err.filename or data_dir}: {err.strerror or err}; check --data-dir.") from None
    return test.data, test.targets
