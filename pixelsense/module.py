"""The LightningModule (the "system") around either network: loss, torchmetrics, optimiser, logging."""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from pixelsense.constants import ARCHS, IMAGE_SIZE, MEAN, NUM_CLASSES, SCHEDULES, STD
from pixelsense.nets import ANN, CNN, PixelPermutation
from pixelsense.report import ConfidentMistakes, assemble

STAGES = ("train", "val", "test")


def build_net(
    arch: str,
    channels: tuple[int, ...],
    hidden: tuple[int, ...],
    dropout: float,
    permute_pixels: int | None = None,
) -> nn.Module:
    """The network; with ``permute_pixels``, behind a fixed pixel permutation drawn from that seed."""
    if arch == "ann":
        net = ANN(hidden=tuple(hidden), dropout=dropout)
    elif arch == "cnn":
        # channels_last runs the convolutions about 1.5x faster on CPU and suits tensor cores on GPU.
        net = CNN(channels=tuple(channels), hidden=tuple(hidden), dropout=dropout).to(
            memory_format=torch.channels_last
        )
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return net if permute_pixels is None else nn.Sequential(PixelPermutation(permute_pixels), net)


def _metrics(prefix: str, average: str | None = "macro") -> MetricCollection:
    return MetricCollection(
        {
            "precision": MulticlassPrecision(NUM_CLASSES, average=average),
            "recall": MulticlassRecall(NUM_CLASSES, average=average),
            "f1": MulticlassF1Score(NUM_CLASSES, average=average),
        },
        prefix=prefix,
    )


class Classifier(pl.LightningModule):
    """Cross-entropy classifier for Fashion-MNIST; ``arch`` picks the ANN or the CNN."""

    def __init__(
        self,
        arch: str = "cnn",
        channels: tuple[int, ...] = (32, 64),  # CNN only: conv width per pooling stage
        hidden: tuple[int, ...] = (128,),  # dense hidden sizes
        dropout: float = 0.2,
        lr: float = 3e-3,  # peak learning rate
        weight_decay: float = 5e-4,  # AdamW, on weights only (not biases or norms)
        label_smoothing: float = 0.1,
        schedule: str = "onecycle",
        permute_pixels: int | None = None,  # seed of a fixed pixel order applied to every image
    ) -> None:
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        self.save_hyperparameters()
        self.net = build_net(arch, channels, hidden, dropout, permute_pixels)
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.example_input_array = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
        for stage in STAGES:  # train_acc, train_scores, val_acc, ...: one pair per stage
            setattr(self, f"{stage}_acc", MulticlassAccuracy(NUM_CLASSES, average="micro"))
            setattr(self, f"{stage}_scores", _metrics(f"{stage}/"))
        self.val_confusion = MulticlassConfusionMatrix(NUM_CLASSES)
        self.test_confusion = MulticlassConfusionMatrix(NUM_CLASSES)
        self.test_per_class = _metrics("", average=None)
        self.test_mistakes = ConfidentMistakes()
        self.shown_mistakes: ConfidentMistakes | None = None  # what the last test run drew
        self.test_report: dict | None = None  # filled at the end of a test run

    def forward(self, x: Tensor) -> Tensor:
        """Normalised images ``[N, 1, 28, 28]`` → logits ``[N, 10]``."""
        return self.net(x)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        accuracy, scores = getattr(self, f"{stage}_acc"), getattr(self, f"{stage}_scores")
        accuracy.update(logits, y)
        scores.update(logits, y)
        training = stage == "train"  # per-step values stay per rank; epoch values of val/test are synced
        self.log(
            f"{stage}/loss", loss, on_step=training, on_epoch=True, prog_bar=True, sync_dist=not training
        )
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        self.log_dict(scores, on_step=False, on_epoch=True)
        return loss, logits

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, logits = self._step(batch, "val")
        self.val_confusion.update(logits.argmax(1), batch[1])

    def on_validation_epoch_end(self) -> None:
        matrix = self.val_confusion.compute()
        self.val_confusion.reset()
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        from pixelsense.plots import log_confusion_matrix

        log_confusion_matrix(self.logger, "val/confusion_matrix", matrix, self.current_epoch)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, logits = self._step(batch, "test")
        self.test_per_class.update(logits, batch[1])
        self.test_confusion.update(logits.argmax(1), batch[1])
        pixels = batch[0] * STD + MEAN  # back to 0–1 for the picture
        self.test_mistakes.update(pixels, batch[1], logits.float().softmax(1))

    def on_test_epoch_end(self) -> None:
        matrix = self.test_confusion.compute()
        self.test_report = assemble(self.test_per_class.compute(), matrix)
        mistakes = self.shown_mistakes = self._gathered_mistakes()
        self.test_confusion.reset()
        self.test_per_class.reset()
        self.test_mistakes = ConfidentMistakes()  # a fresh one: `mistakes` may be the old
        if self._trainer is not None and self.trainer.is_global_zero:
            from pixelsense.plots import confusion_matrix_figure, log_figure, misclassified_figure

            step = self.current_epoch
            matrix_picture = confusion_matrix_figure(matrix, title="test")
            log_figure(self.logger, "test/confusion_matrix", matrix_picture, step)
            picture = misclassified_figure(*mistakes.state()[:4], title="most confident test mistakes")
            log_figure(self.logger, "test/misclassified", picture, step)

    def _gathered_mistakes(self) -> ConfidentMistakes:
        """Every rank's most confident mistakes, merged (each rank sends exactly k, padded)."""
        mine = self.test_mistakes
        if self._trainer is None or self.trainer.world_size == 1:
            return mine
        k, have = mine.k, len(mine.confidence)
        padded = [torch.cat([t, t.new_zeros((k - have, *t.shape[1:]))]) for t in mine.state()]
        padded[3][have:] = -1.0  # padding is never chosen over a real mistake
        merged = ConfidentMistakes(k)
        gathered = [t.flatten(0, 1) for t in self.all_gather([p.to(self.device) for p in padded])]
        real = gathered[3] >= 0
        merged.merge(*(t[real] for t in gathered))
        return merged

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Class probabilities ``[N, 10]`` for a batch of (images, labels)."""
        return self(batch[0]).softmax(dim=-1)

    def configure_optimizers(self):
        decay = [p for p in self.parameters() if p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.ndim <= 1]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.hparams.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.hparams.lr,
        )
        # The schedule is a function of (step, total) recomputed from this run's total, so --resume
        # with more epochs stretches it instead of overrunning a stored step count.
        total = max(1, int(self.trainer.estimated_stepping_batches))
        shape = one_cycle if self.hparams.schedule == "onecycle" else cosine
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: shape(step / total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def cosine(progress: float) -> float:
    """Learning-rate factor: 1 at the start, cosine down to 0 at the end."""
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def one_cycle(progress: float, warmup: float = 0.3, start: float = 1 / 25) -> float:
    """Learning-rate factor: cosine up from ``start`` to 1 over ``warmup``, then cosine down to 0
    (the shape of torch's OneCycleLR)."""
    if progress < warmup:
        return start + (1.0 - start) * (1.0 - cosine(progress / warmup))
    return cosine((progress - warmup) / (1.0 - warmup))
