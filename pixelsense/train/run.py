"""One training run end to end: fit, test the best checkpoint on the official test set, write
``metrics.json`` and print a summary. ``scripts/fit.py`` is the command line around ``fit``."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from pixelsense.constants import CLASSES
from pixelsense.errors import first_line
from pixelsense.files import check_writable, exclusive, write_text_atomic
from pixelsense.train.callbacks import (
    Checkpoint,
    EpochSeed,
    ProgressBar,
    QuietProfiler,
    RunConfig,
    Stopwatch,
)
from pixelsense.train.checkpoint_io import CheckpointWriter, wait_for_writes
from pixelsense.train.config import ConfigError, FitConfig
from pixelsense.train.data import FashionMNISTDataModule
from pixelsense.train.hardware import device_line, hardware
from pixelsense.train.logger import RunLogger
from pixelsense.train.module import Classifier
from pixelsense.train.resume import ResumeError, resume_path
from pixelsense.train.sources import ensure_fashion_mnist

# Lightning internals on torch >= 2.10; not actionable for a user.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# Lightning's rank-zero info lines (advertising tips, "GPU available: ...", "Restoring states ..."): fit.py
# prints its own start line with the device, precision and what it resumes from. Warnings still show.
# And its "Received SIGTERM" note: a stop is said in one line by signals.stoppable.
for _source in ("utilities.rank_zero", "trainer.connectors.signal_connector"):
    logging.getLogger(f"pytorch_lightning.{_source}").setLevel(logging.WARNING)
# The module logs its curves every LOG_EVERY optimizer steps, and a Lightning step takes several of them
# (data.STEPS_PER_CALL): Lightning's count of its own steps against that interval means nothing here.
warnings.filterwarnings("ignore", message=r"The number of training batches .* is smaller than the logging")
# bf16-mixed, the default on a GPU: the summary counts parameters at 32 bits, which is what they are.
warnings.filterwarnings("ignore", message=r"Precision .* is not supported by the model summary")
MONITOR = "val/acc"  # the checkpoint kept as "best" maximises this
LOG_EVERY = 20  # training steps between two points of the train/loss and train/lr curves


def build(cfg: FitConfig) -> tuple[Classifier, FashionMNISTDataModule]:
    model = Classifier(
        arch=cfg.model, channels=cfg.channels, hidden=cfg.hidden, dropout=cfg.dropout, lr=cfg.lr,
        weight_decay=cfg.weight_decay, label_smoothing=cfg.label_smoothing, schedule=cfg.schedule,
        permute_pixels=cfg.permute_pixels,
    )  # fmt: skip
    model.cuda_graphs = cfg.cuda_graphs
    data = FashionMNISTDataModule(
        data_dir=cfg.data_dir, batch_size=cfg.batch_size, seed=cfg.seed, flip=cfg.flip,
        translate=cfg.translate, download=cfg.download,
    )  # fmt: skip
    return model, data


def make_trainer(
    cfg: FitConfig, logger: RunLogger, extra: Sequence[Callback] = ()
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The Trainer for a run and its best-checkpoint callback (``extra``: more callbacks, as the bench's)."""
    accelerator, precision = hardware(cfg.accelerator, cfg.precision)
    if accelerator != "cpu":
        torch.set_float32_matmul_precision("high")  # TF32 for what runs in float32 on a GPU
    best = Checkpoint(
        dirpath=cfg.checkpoint_dir, filename="best-epoch{epoch:02d}-acc{val/acc:.4f}",
        auto_insert_metric_name=False, monitor=MONITOR, mode="max", save_top_k=1,
    )  # fmt: skip
    # Lightning's save_last only writes when the best one does; --resume needs every epoch.
    last = Checkpoint(dirpath=cfg.checkpoint_dir, filename="last", enable_version_counter=False)
    # Each epoch seeds its own random draws, so a resumed run trains as if it had never stopped.
    callbacks = [best, last, EpochSeed(cfg.seed), RunConfig(json.loads(cfg.to_json())), ProgressBar(), *extra]
    try:
        trainer = pl.Trainer(
            accelerator=accelerator, devices=cfg.devices, strategy=cfg.strategy, num_nodes=cfg.num_nodes,
            precision=precision, max_epochs=cfg.epochs, logger=logger, fast_dev_run=cfg.fast_dev_run,
            callbacks=callbacks, plugins=[CheckpointWriter()],
            log_every_n_steps=LOG_EVERY, profiler=QuietProfiler(),
            benchmark=accelerator != "cpu",  # cuDNN picks its fastest kernels
            use_distributed_sampler=False,  # the DataModule shards itself, without padding evaluation sets
        )  # fmt: skip
    # Lightning checks these settings here, and says TypeError of a --devices it cannot parse ("abc"), and
    # ModuleNotFoundError of a strategy's missing optional package ("Requirement 'torch_xla>=1.13' not met").
    except (MisconfigurationException, ValueError, TypeError, ModuleNotFoundError) as err:
        raise ConfigError(f"Lightning cannot run these settings ({first_line(err).rstrip('.')}); check "
                          "--accelerator, --devices, --strategy and --precision.") from None  # fmt: skip
    return trainer, best


def fit(cfg: FitConfig, command: str = "") -> dict | None:
    """Train, test and report. Returns the metrics (None on DDP ranks other than 0, and for fast_dev_run).

    The checkpoint folder is locked for the whole run: a second run into it is refused at once."""
    if getattr(rank_zero_only, "rank", 0) != 0:  # a DDP worker: rank 0 holds the lock for all ranks
        return _train(cfg, command)
    check_writable(cfg.logdir)  # fail now, not after the training
    with exclusive(cfg.checkpoint_dir, "--checkpoint-dir"):
        check_writable(cfg.checkpoint_dir)
        return _train(cfg, command)


def _train(cfg: FitConfig, command: str) -> dict | None:
    resume_from = resume_path(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    raw = ensure_fashion_mnist(cfg.data_dir, download=cfg.download)
    model, data = build(cfg)
    logger = RunLogger(cfg.logdir, cfg.model)
    stopwatch = Stopwatch()
    trainer, checkpoint = make_trainer(cfg, logger, [stopwatch])
    if trainer.is_global_zero:
        print(
            f"pixelsense: training {cfg.model} on {device_line(trainer)} | precision {trainer.precision} | "
            f"{cfg.recipe} recipe: {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr:g} | "
            f"data {raw} (SHA-256 verified) | logs {logger.log_dir} | checkpoints {cfg.checkpoint_dir}"
            + (f" | resuming from {resume_from}" if resume_from else ""),
            flush=True,
        )
        if not cfg.fast_dev_run:
            write_text_atomic(Path(logger.log_dir) / "config.json", cfg.to_json())
    with warnings.catch_warnings():
        if resume_from or cfg.fast_dev_run:  # the run being resumed is there; a smoke test writes nothing
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* is not empty")
        # A moved run folder's paths are taken along (callbacks.Checkpoint); a best checkpoint that is not
        # there is said in one line before the test.
        warnings.filterwarnings("ignore", message=r"The dirpath has changed")
        trainer.fit(model, datamodule=data, ckpt_path=resume_from)
    train_seconds = stopwatch.seconds  # the whole run's, across resumes
    # The best checkpoint's weights (the current ones when there is none, as in fast_dev_run).
    best = checkpoint.best_model_path
    wait_for_writes(trainer)  # rank 0 writes it beside the training: on disk before anyone looks for it
    # Removed by hand, or named by a checkpoint copied in from another run: rank 0's view, on every rank.
    if trainer.strategy.broadcast(bool(best) and not Path(best).is_file()):
        raise ResumeError(f"{best}, this run's best checkpoint, is missing, so it cannot be tested; put it "
                          "back, or train again into another --checkpoint-dir.")  # fmt: skip
    scores = trainer.test(model, datamodule=data, ckpt_path=best or None, verbose=False)[0]
    if not trainer.is_global_zero:
        return None
    metrics = {
        "model": cfg.model,
        "test_accuracy": scores["test/acc"],
        "test_precision_macro": scores["test/precision"],
        "test_recall_macro": scores["test/recall"],
        "test_f1_macro": scores["test/f1"],
        "test_loss": scores["test/loss"],
        "per_class": model.test_report["per_class"],
        "confusion_matrix": model.test_report["confusion_matrix"],
        "most_confident_mistakes": [  # of every rank, merged: what test/misclassified draws
            {"true": CLASSES[t], "predicted": CLASSES[p], "confidence": round(c, 4)}
            for t, p, c in zip(*(part.tolist() for part in model.shown_mistakes[1:4]), strict=True)
        ],
        "params": sum(p.numel() for p in model.parameters()),
        "permute_pixels": cfg.permute_pixels,
        "recipe": cfg.recipe,
        "epochs": trainer.current_epoch,
        "train_seconds": round(train_seconds, 1),
        "best_checkpoint": best,
        "device": device_line(trainer),
        "precision": trainer.precision,
        "command": command,
        "config": json.loads(cfg.to_json()),
    }
    print(summary_table(metrics), flush=True)
    if cfg.fast_dev_run:
        return None  # one batch is a smoke test, not a result worth a metrics file
    _save(cfg, logger, metrics, model, data)
    return metrics


def _save(cfg: FitConfig, logger, metrics: dict, model: Classifier, data: FashionMNISTDataModule) -> None:
    """Final metrics to TensorBoard's hparams and metrics.json; the verified model.onnx unless --no-export."""
    final = {"hp/test_acc": metrics["test_accuracy"], "hp/test_f1_macro": metrics["test_f1_macro"]}
    logger.log_hyperparams(metrics["config"], final)
    # Written after fit: before it, Lightning would warn that the checkpoint folder is not empty.
    write_text_atomic(Path(cfg.checkpoint_dir) / "config.json", cfg.to_json())
    if cfg.export:
        from pixelsense.train.export import describe, export

        onnx_path = Path(cfg.checkpoint_dir) / "model.onnx"
        diffs = export(model, onnx_path, data.test_set.images, metrics["test_accuracy"])
        print(f"pixelsense: wrote {onnx_path}; {describe(diffs)}", flush=True)
    # Last: its presence says the run is complete (--resume and runs.py go by it).
    write_text_atomic(Path(cfg.checkpoint_dir) / "metrics.json", json.dumps(metrics, indent=2))
    print(f"pixelsense: wrote {Path(cfg.checkpoint_dir) / 'metrics.json'}", flush=True)


def summary_table(metrics: dict) -> str:
    lines = [
        f"{metrics['model'].upper()} on the official test set: accuracy {metrics['test_accuracy']:.4f}, "
        f"macro F1 {metrics['test_f1_macro']:.4f} ({metrics['params']:,} parameters, "
        f"{metrics['train_seconds']:.0f} s training)",
        f"{'class':<12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}",
    ]
    for name in CLASSES:
        row = metrics["per_class"][name]
        scores = " ".join(f"{row[k]:>9.4f}" for k in ("precision", "recall", "f1"))
        lines.append(f"{name:<12} {scores} {row['support']:>8d}")
    return "\n".join(lines)
