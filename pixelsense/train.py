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
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from pixelsense.callbacks import (
    Checkpoint,
    EpochSeed,
    ProgressBar,
    QuietProfiler,
    RunConfig,
    Stopwatch,
)
from pixelsense.checkpoint_io import CheckpointWriter, wait_for_writes
from pixelsense.checkpoints import read_checkpoint
from pixelsense.checks import option
from pixelsense.config import RECIPE_FIELDS, ConfigError, FitConfig, shown
from pixelsense.constants import CLASSES
from pixelsense.data import FashionMNISTDataModule
from pixelsense.errors import PixelsenseError, first_line
from pixelsense.files import check_writable, exclusive, write_text_atomic
from pixelsense.module import Classifier
from pixelsense.paths import not_regular
from pixelsense.sources import ensure_fashion_mnist

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
# What a checkpoint must hold for --resume to go on exactly: optimiser, schedule, loop and callback states.
RESUME_STATE = ("state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks")
LOG_EVERY = 20  # training steps between two points of the train/loss and train/lr curves


class ResumeError(PixelsenseError):
    """--resume cannot continue; the message says why and what to do."""


def hardware(cfg: FitConfig) -> tuple[str, str]:
    """(accelerator, precision) that ``auto`` means on this machine."""
    accelerator = cfg.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    precision = cfg.precision
    if precision == "auto":
        gpu = accelerator in ("gpu", "cuda") and torch.cuda.is_available()
        precision = "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    return accelerator, precision


def _device_line(trainer: pl.Trainer) -> str:
    root = trainer.strategy.root_device
    if root.type == "cuda":
        name = torch.cuda.get_device_name(root)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    return f"{trainer.world_size} × {root.type} ({name}), strategy {type(trainer.strategy).__name__}"


def _resume_path(cfg: FitConfig) -> str | None:
    if not cfg.resume:
        if getattr(rank_zero_only, "rank", 0) == 0:  # DDP's other ranks start once rank 0 has looked
            _no_run_there(cfg)
        return None
    last = Path(cfg.checkpoint_dir) / "last.ckpt"
    if problem := not_regular(last):
        if "does not exist" in problem:
            raise ResumeError(f"nothing to resume: {last} does not exist; train once without --resume first.")
        raise ResumeError(f"{last} {problem}; move it away, or start a new run in another --checkpoint-dir.")
    try:
        state = read_checkpoint(last)
        saved, done = state["hyper_parameters"], state["epoch"] + 1
    except Exception as err:  # a damaged file fails in many ways
        raise ResumeError(
            f"{last} is damaged ({type(err).__name__}); move it away, or start a new run in another "
            "--checkpoint-dir."
        ) from None
    missing = [key for key in RESUME_STATE if not state.get(key)]
    if missing:
        raise ResumeError(f"{last} cannot be resumed: it has no {missing[0]} (fit.py did not write it); "
                          "train without --resume, into another --checkpoint-dir.")  # fmt: skip
    if saved.get("arch") != cfg.model:
        raise ResumeError(
            f"{last} holds a {saved.get('arch')!r} model, not {cfg.model!r}; pass the matching --model."
        )
    for key in ("hidden", "channels", "permute_pixels"):  # the shapes and order of the weights
        had, want = saved.get(key), getattr(cfg, key)
        if key != "permute_pixels":  # widths: a list in the checkpoint, a tuple here
            had, want = tuple(had or ()), tuple(want)
        if had != want:
            raise ResumeError(f"{last} was trained with {_as_option(key, had)}, not {_as_option(key, want)}; "
                              "resume with the run's settings.")  # fmt: skip
    _same_run(last, state, cfg)
    if done > cfg.epochs or (done == cfg.epochs and _reported(cfg, done)):
        raise ResumeError(
            f"{last} has already trained {done} epochs; pass --epochs above {done} to continue."
        )
    return str(last)


def _reported(cfg: FitConfig, epochs: int) -> bool:
    """Whether the run's report (metrics.json, written last) is that of ``epochs`` epochs: a run stopped after
    its last epoch but before its report is not finished, nor is one resumed for more epochs and stopped
    before its new report (the old one describes fewer)."""
    try:
        return json.loads((Path(cfg.checkpoint_dir) / "metrics.json").read_text()).get("epochs") == epochs
    except (OSError, ValueError, AttributeError):  # missing, unreadable, or not this project's
        return False


RUN_FILES = ("last.ckpt", "metrics.json", "model.onnx", "config.json")  # besides best-*.ckpt


def _no_run_there(cfg: FitConfig) -> None:
    """Refuse to start a new run in a folder that holds another's files: they would be replaced or, worse,
    mixed with the new run's. A one-batch smoke test writes nothing there."""
    folder = Path(cfg.checkpoint_dir)
    found = [name for name in RUN_FILES if (folder / name).exists()] + sorted(
        p.name for p in folder.glob("best-*.ckpt")
    )
    if found and not cfg.fast_dev_run:
        shown_files = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        if "last.ckpt" in found:
            raise ResumeError(f"{folder} already holds a run ({shown_files}); pass --resume to go on with "
                              "it, or choose another --checkpoint-dir for a new run.")  # fmt: skip
        raise ResumeError(f"{folder} holds another run's files ({shown_files}) but no last.ckpt to resume "
                          "from; move them away, or choose another --checkpoint-dir.")  # fmt: skip


def _as_option(key: str, value) -> str:
    """A setting as the option that gives it: ``--hidden 512 256``; ``no --permute-pixels`` for None."""
    return f"no {option(key)}" if value is None else f"{option(key)} {shown(value)}"


def _same_run(last: Path, state: dict, cfg: FitConfig) -> None:
    """Refuse settings that would make the resumed run another one than the run that wrote ``last``."""
    saved = state.get("callbacks", {}).get("RunConfig", {}).get("config")
    if not isinstance(saved, dict):
        return  # a checkpoint from before the configuration was kept: the checks above are what there is
    now = json.loads(cfg.to_json())
    for key in ("seed", "recipe", "permute_pixels", *RECIPE_FIELDS):
        if key != "epochs" and saved.get(key) != now[key]:
            had, want = _as_option(key, saved.get(key)), _as_option(key, now[key])
            raise ResumeError(f"{last} was trained with {had}, not {want}; resume with the run's settings.")
    planned = saved.get("epochs", 0)
    if cfg.epochs < planned:
        raise ResumeError(f"{last} is a run of {planned} epochs (its learning-rate schedule was built for "
                          f"them); resume with --epochs {planned}, or more to stretch it.")  # fmt: skip


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
    cfg: FitConfig, logger: TensorBoardLogger, extra: Sequence[Callback] = ()
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The Trainer for a run and its best-checkpoint callback (``extra``: more callbacks, as the bench's)."""
    accelerator, precision = hardware(cfg)
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
    resume_from = _resume_path(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    raw = ensure_fashion_mnist(cfg.data_dir, download=cfg.download)
    model, data = build(cfg)
    logger = TensorBoardLogger(cfg.logdir, name=cfg.model, default_hp_metric=False)
    stopwatch = Stopwatch()
    trainer, checkpoint = make_trainer(cfg, logger, [stopwatch])
    if trainer.is_global_zero:
        print(
            f"pixelsense: training {cfg.model} on {_device_line(trainer)} | precision {trainer.precision} | "
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
        "device": _device_line(trainer),
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
        from pixelsense.export import describe, export

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
