"""The LightningModule (the "system") around either network: loss, torchmetrics, optimiser, logging."""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from pixelsense.constants import IMAGE_SIZE, MEAN, NUM_CLASSES, SCHEDULES, STD
from pixelsense.train.checkpoint_io import wait_for_writes
from pixelsense.train.config import RECIPES
from pixelsense.train.data import Steps
from pixelsense.train.graphs import GraphedStep, can_graph, training_loss
from pixelsense.train.nets import build_net
from pixelsense.train.optim import optimizer_and_schedule
from pixelsense.train.report import ConfidentMistakes, Mistakes, assemble

_CNN = RECIPES["cpu"]["cnn"]


def _scores(prefix: str, average: str | None = "macro") -> MetricCollection:
    """Precision, recall and F1 (inputs come from the model, so torchmetrics' input checks are skipped)."""
    kw = dict(num_classes=NUM_CLASSES, average=average, validate_args=False)
    return MetricCollection(
        {
            "precision": MulticlassPrecision(**kw),
            "recall": MulticlassRecall(**kw),
            "f1": MulticlassF1Score(**kw),
        },
        prefix=prefix,
    )


def _accuracy() -> MulticlassAccuracy:
    return MulticlassAccuracy(NUM_CLASSES, average="micro", validate_args=False)


class Classifier(pl.LightningModule):
    """Cross-entropy classifier for Fashion-MNIST; ``arch`` picks the ANN or the CNN.

    The hot loop does what the result needs and no more: a training step updates the loss and accuracy on
    the device and logs the loss every ``log_every_n_steps``; precision, recall and F1 are validation and
    test numbers; every epoch value is computed once, at the end of its epoch.
    """

    cuda_graphs = True  # replay the training forward and backward as CUDA graphs where they run (graphs.py)

    def __init__(
        self,
        arch: str = "cnn",
        # The defaults are the CPU recipe of the CNN (config.RECIPES, their one place).
        channels: tuple[int, ...] = _CNN["channels"],  # CNN only: conv width per pooling stage
        hidden: tuple[int, ...] = _CNN["hidden"],  # dense hidden sizes
        dropout: float = _CNN["dropout"],
        lr: float = _CNN["lr"],  # peak learning rate
        weight_decay: float = _CNN["weight_decay"],  # AdamW, on weights only (not biases or norms)
        label_smoothing: float = _CNN["label_smoothing"],
        schedule: str = _CNN["schedule"],
        permute_pixels: int | None = None,  # seed of a fixed pixel order applied to every image
    ) -> None:
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        self.save_hyperparameters()
        self.net = build_net(arch, channels, hidden, dropout, permute_pixels)
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.example_input_array = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
        # Training's loss and accuracy: running sums on the device, one in-place add a step and no sync. A
        # plain tensor, not a buffer: DDP would overwrite every rank's buffers with rank 0's at each forward.
        self.train_sums = torch.zeros(3)  # loss × images, correct, images; reset when an epoch starts
        for stage in ("val", "test"):  # val_loss, val_acc, ...: epoch values over every image
            setattr(self, f"{stage}_loss", MeanMetric(nan_strategy="disable"))
            setattr(self, f"{stage}_acc", _accuracy())
        self.val_scores, self.test_scores = _scores("val/"), _scores("test/")
        self.val_confusion = MulticlassConfusionMatrix(NUM_CLASSES, validate_args=False)
        self.test_confusion = MulticlassConfusionMatrix(NUM_CLASSES, validate_args=False)
        self.test_per_class = _scores("", average=None)
        self.test_mistakes = ConfidentMistakes()
        self.shown_mistakes: Mistakes | None = None  # what the last test run drew
        self.test_report: dict | None = None  # filled at the end of a test run
        # training_step takes several optimizer steps (data.STEPS_PER_CALL): Lightning's loop costs more a
        # step than a GPU takes to run one.
        self.automatic_optimization = False

    def __setattr__(self, name: str, value) -> None:
        # Lightning records the running hook here around each of its hook calls, about 50 times a training
        # step; nn.Module's __setattr__ looks through parameters, modules and buffers every time.
        if name == "_current_fx_name":
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)

    def forward(self, x: Tensor) -> Tensor:
        """Normalised images ``[N, 1, 28, 28]`` → logits ``[N, 10]``."""
        return self.net(x)

    def training_step(self, batch: Steps | tuple[Tensor, Tensor], batch_idx: int) -> None:
        """One optimizer step for each batch in ``batch`` (``data.STEPS_PER_CALL`` of them, or one (x, y))."""
        optimizer, schedule = self.optimizers(), self.lr_schedulers()
        every = self.trainer.log_every_n_steps
        steps = batch if isinstance(batch, Steps) else Steps([batch])
        for images, y in steps.batches:
            loss, logits = self._loss(images, y, steps.transform or _same)
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            lr = optimizer.param_groups[0]["lr"]  # the rate this step was taken with
            optimizer.step()  # Lightning counts it: global_step is the optimizer steps taken
            schedule.step()
            with torch.no_grad():
                n, correct = len(y), (logits.argmax(1) == y).sum()
                self.train_sums.add_(torch.stack([loss * n, correct.to(loss.dtype), loss.new_full((), n)]))
            # The loss and learning-rate curves need a point every N steps; one every step costs a host sync.
            if self.global_step % every == 0:
                self._write({"train/loss": loss.detach(), "train/lr": lr})
        self.log("train/loss", loss.detach(), prog_bar=True, logger=False, batch_size=len(y))

    def _loss(self, images: Tensor, y: Tensor, transform) -> tuple[Tensor, Tensor]:
        """(loss, logits) of a training batch of uint8 images: from the CUDA graphs where they run
        (``graphs.GraphedStep``: the input transform, network and loss in one replay), else eager."""
        graph, precision = self.__dict__.get("_graph"), self.trainer.precision
        if graph is None and self.cuda_graphs and can_graph(images, precision, self.trainer.world_size):
            wait_for_writes(self.trainer)  # recording fails if another thread copies from the GPU meanwhile
            graph = self.__dict__["_graph"] = GraphedStep(
                self.net, self.loss, transform, images, y, precision
            )
        if graph is not None and graph.fits(images):
            return graph(images, y)
        return training_loss(self.net, self.loss, transform, images, y)

    def on_train_start(self) -> None:
        self.__dict__["_graph"] = None  # recorded anew for each fit: it holds the parameters' memory

    def on_train_end(self) -> None:
        self.__dict__["_graph"] = None  # its memory pool and static tensors go with it

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint written before training_step took several optimizer steps counted them in
        Lightning's automatic-optimization progress; carry that count over, so a resumed run's global_step
        (TensorBoard's x axis) goes on from it instead of from 0. Lightning calls this before it restores
        the loops."""
        loop = checkpoint.get("loops", {}).get("fit_loop", {})
        manual = loop.get("epoch_loop.manual_optimization.optim_step_progress")
        automatic = loop.get("epoch_loop.automatic_optimization.optim_progress", {}).get("optimizer", {})
        steps = automatic.get("step")
        if manual and steps and manual["total"]["completed"] == 0 and steps["total"]["completed"] > 0:
            loop["epoch_loop.manual_optimization.optim_step_progress"] = copy.deepcopy(steps)

    def on_train_epoch_start(self) -> None:
        self.train_sums = torch.zeros(3, device=self.device)

    def on_train_epoch_end(self) -> None:
        total, correct, seen = self.trainer.strategy.reduce(self.train_sums, reduce_op="sum")  # DDP ranks
        self._write({"train/loss_epoch": total / seen, "train/acc": correct / seen})

    def _write(self, values: dict) -> None:
        """Values into the logger at the current optimizer step (TensorBoard's x axis). Lightning would log
        at its own step count, which counts training steps of several optimizer steps each."""
        if self.logger is None or not self.trainer.is_global_zero or self.trainer.sanity_checking:
            return
        names = [k for k, v in values.items() if isinstance(v, Tensor)]
        if names:  # scalars on the device, read back together: one host sync, not one a value
            numbers = torch.stack([values[k].float() for k in names]).tolist()
            values = {**values, **dict(zip(names, numbers, strict=True))}
        self.logger.log_metrics({k: float(v) for k, v in values.items()}, step=self.global_step)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """Loss and logits of an evaluation batch; the stage's loss and accuracy are updated (no sync)."""
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        getattr(self, f"{stage}_loss").update(loss, len(y))
        getattr(self, f"{stage}_acc").update(logits, y)
        return loss, logits

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, logits = self._step(batch, "val")
        self.val_scores.update(logits, batch[1])
        self.val_confusion.update(logits.argmax(1), batch[1])

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")
        matrix = self.val_confusion.compute()
        self.val_confusion.reset()
        if self.trainer.sanity_checking or not self.trainer.is_global_zero or not self._last_epoch():
            return
        from pixelsense.train.plots import log_confusion_matrix

        log_confusion_matrix(self.logger, "val/confusion_matrix", matrix, self.current_epoch)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, logits = self._step(batch, "test")
        self.test_scores.update(logits, batch[1])
        self.test_per_class.update(logits, batch[1])
        self.test_confusion.update(logits.argmax(1), batch[1])
        pixels = batch[0] * STD + MEAN  # back to 0–1 for the picture
        self.test_mistakes.update(pixels, batch[1], logits.float().softmax(1))

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        matrix = self.test_confusion.compute()
        self.test_report = assemble(self.test_per_class.compute(), matrix)
        mistakes = self.shown_mistakes = self.test_mistakes.compute()  # every rank's, merged
        self.test_confusion.reset()
        self.test_per_class.reset()
        self.test_mistakes.reset()
        if self._trainer is not None and self.trainer.is_global_zero:
            from pixelsense.train.plots import confusion_matrix_figure, log_figure, misclassified_figure

            step = self.current_epoch
            matrix_picture = confusion_matrix_figure(matrix, title="test")
            log_figure(self.logger, "test/confusion_matrix", matrix_picture, step)
            picture = misclassified_figure(*mistakes[:4], title="most confident test mistakes")
            log_figure(self.logger, "test/misclassified", picture, step)

    def _log_epoch(self, stage: str) -> None:
        """An evaluation stage's epoch values, computed once (torchmetrics merges DDP ranks), then reset.

        Validation inside fit: the loss and accuracy go to Lightning for the bar, the checkpoint's monitor
        (val/acc) and ``trainer.callback_metrics``, but not to its logger; every value reaches the logger
        through ``_write``, at the optimizer step. Lightning registers each logged key anew at every
        evaluation run (about 1 ms a key on a 2-core CPU), which precision, recall and F1 are spared there.
        ``trainer.test()`` and ``trainer.validate()``: every value goes through Lightning, which logs it and
        returns it, as a Lightning user expects; a logged ``step`` puts it at the optimizer step too.
        """
        metrics = [getattr(self, f"{stage}_{name}") for name in ("loss", "acc", "scores")]
        values = {f"{stage}/loss": metrics[0].compute(), f"{stage}/acc": metrics[1].compute()}
        values.update(metrics[2].compute())
        for metric in metrics:
            metric.reset()
        fitting = self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING
        shown = {f"{stage}/loss", f"{stage}/acc"}  # on the progress bar; precision, recall, F1 only logged
        # logger None, not True: to the logger when there is one, without Lightning's warning when not.
        to_logger = False if fitting else None
        # sync_dist: the torchmetrics values are synced already (the same on every rank, so their mean is
        # theirs), and Lightning warns of any epoch-level tensor logged without it under DDP.
        self.log_dict({k: v for k, v in values.items() if k in shown}, prog_bar=True, logger=to_logger,
                      sync_dist=True)  # fmt: skip
        if fitting:
            self._write(values)
            return
        rest = {k: v for k, v in values.items() if k not in shown}
        self.log_dict({**rest, "step": float(self.global_step)}, sync_dist=True)

    def _last_epoch(self) -> bool:
        """Whether this is the run's final epoch (its figures are drawn once, at the end: a figure costs
        about half a second, more than a whole epoch of the ANN on a GPU)."""
        return self.current_epoch + 1 >= self.trainer.max_epochs or self.trainer.should_stop

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Class probabilities ``[N, 10]`` for a batch of (images, labels)."""
        return self(batch[0]).softmax(dim=-1)

    def configure_optimizers(self):
        calls = int(self.trainer.estimated_stepping_batches)  # training steps, each of several batches
        loader = getattr(self.trainer, "train_dataloader", None)
        steps = getattr(loader, "steps", None)  # the optimizer steps in an epoch (data.TrainingBatches)
        total = calls * steps // len(loader) if steps else calls
        hp = self.hparams
        optimizer, scheduler = optimizer_and_schedule(self, hp.lr, hp.weight_decay, hp.schedule, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _same(x: Tensor) -> Tensor:
    """The transform of batches that arrive as network inputs already."""
    return x
