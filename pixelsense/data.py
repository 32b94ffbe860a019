"""Fashion-MNIST as one LightningDataModule shared by the ANN and the CNN.

Images stay one uint8 tensor; a batch is a slice of it, moved to the device as uint8. Conversion,
augmentation (random horizontal flip, small random translation) and normalisation run on the whole
batch on the device, in ``on_after_batch_transfer``: no per-sample Python in the hot loop.
"""

from __future__ import annotations

import os

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pixelsense.constants import CLASSES, IMAGE_SIZE, MEAN, STD
from pixelsense.sources import ensure_fashion_mnist

__all__ = ["CLASSES", "IMAGE_SIZE", "MEAN", "STD", "FashionMNISTDataModule", "augment", "normalize"]

VAL_SIZE = 5000  # held out of the official 60k training images for validation


class TensorImages(Dataset):
    """uint8 images ``[N, 28, 28]`` and int64 labels; indexing with a list returns a whole batch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images.contiguous()
        self.labels = labels.long().contiguous()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # The DataLoader's fetcher hands over a whole batch of indices: one gather, no Python loop.
        index = torch.as_tensor(indices)
        return self.images[index], self.labels[index]


def _keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn for batches that ``__getitems__`` already assembled."""
    return batch


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
        batch_size: int = 256,
        seed: int = 0,
        val_size: int = VAL_SIZE,
        flip: bool = True,
        translate: int = 1,
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

    def _loader(self, dataset: TensorImages | None, shuffle: bool) -> DataLoader:
        """Under DDP each rank reads its own shard. Evaluation shards are not padded (Lightning's
        default sampler repeats images to even them out), so every image is counted exactly once."""
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        world = self.trainer.world_size if self.trainer is not None else 1
        sampler = None
        if world > 1 and shuffle:
            sampler = DistributedSampler(dataset, world, self.trainer.global_rank, seed=self.hparams.seed)
        elif world > 1:
            sampler = range(self.trainer.global_rank, len(dataset), world)
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            collate_fn=_keep_batch,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, torch.Tensor):
            return batch  # the model summary's example_input_array: already a model input
        images, labels = batch
        if self.trainer is not None and self.trainer.training:
            return normalize(images, self.hparams.flip, self.hparams.translate), labels
        return normalize(images), labels
