"""What a run's settings may be, checked before anything is built: the type of each value (a config.json or a
checkpoint can hold anything) and the range that trains in finite time and memory."""

from __future__ import annotations

import math
import os
import types
import typing

from pixelsense.constants import ARCHS, IMAGE_SIZE, NUM_CLASSES, SCHEDULES
from pixelsense.train.hardware import device_kind

# 200 times the recipes' networks (about 0.5M each) and 1.6 GB of weights, gradients and AdamW moments (16
# bytes a parameter): above it, a width is a typo, and the network may not fit in memory at all.
MAX_PARAMS = 100_000_000
MAX_EPOCHS = 10_000  # far beyond where Fashion-MNIST stops improving
MAX_BATCH = 60_000  # the whole official training set in one batch
MAX_SEED = 2**32 - 1  # Lightning's seed_everything (numpy) takes 0 to this
# Lightning precisions that train here: the data path hands the network float32 images, so a "-true" cast of
# the weights to another dtype (64-true, 16-true, bf16-true) fails on its first batch; mixed precision
# autocasts instead. "auto" is hardware.hardware's choice.
PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed")
CUDA_ONLY = ("16-mixed",)  # on a CPU, Lightning warns and trains in bf16-mixed instead
# Each CNN stage halves the side with a 2×2 pooling: 28 → 14 → 7 → 3 → 1; a fifth has nothing left to pool.
MAX_STAGES = int(math.log2(IMAGE_SIZE))
# Environment variables that a multi-node launcher (Lightning's own, torchrun, SLURM, LSF, MPI) sets.
CLUSTER_VARIABLES = (
    "NODE_RANK",
    "MASTER_ADDR",
    "GROUP_RANK",
    "SLURM_NTASKS",
    "LSB_JOBID",
    "OMPI_COMM_WORLD_SIZE",
)
_KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
          tuple: "a list of integers"}  # fmt: skip


def base_type(hint) -> tuple[type, bool]:
    """The type a hint such as ``int | None`` or ``tuple[int, ...]`` stands for (``tuple`` for the latter),
    and whether it allows None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        return base_type(kinds[0])[0], len(kinds) < len(typing.get_args(hint))
    return typing.get_origin(hint) or hint, False


def type_problem(value, hint, choices: tuple[str, ...] = ()) -> str | None:
    """What ``value`` should be when it does not fit the type ``hint`` (a FitConfig field's or a
    Classifier argument's, from ``typing.get_type_hints``), else None."""
    base, optional = base_type(hint)
    if value is None:
        return None if optional else _KINDS[base]
    ok = {
        int: _is_int(value),
        float: _is_int(value) or isinstance(value, float),
        str: isinstance(value, str),
        bool: isinstance(value, bool),
        tuple: isinstance(value, list | tuple) and all(_is_int(v) for v in value),
    }[base]
    if not ok:
        return _KINDS[base]
    if choices and value not in choices:
        return f"one of {', '.join(choices)}"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parameter_count(arch: str, channels: tuple[int, ...], hidden: tuple[int, ...]) -> int:
    """The parameters of nets.py's ANN or CNN (one conv per stage) of these widths, from the shapes:
    nothing is built, so widths of any size cost nothing to count."""
    features, count = IMAGE_SIZE * IMAGE_SIZE, 0
    if arch == "cnn":
        width, side = 1, IMAGE_SIZE
        for out in channels:
            count += 9 * width * out + 2 * out  # 3×3 conv without bias, BatchNorm weight and bias
            width, side = out, side // 2
        features = width * side * side
    for size in (*hidden, NUM_CLASSES):
        count += features * size + size
        features = size
    return count


def option(name: str) -> str:
    """A FitConfig field as fit.py's option: batch_size → --batch-size."""
    return "--" + name.replace("_", "-")


def network_problems(
    arch: str, channels, hidden, dropout, schedule, permute_pixels, flag=option
) -> list[str]:
    """What is wrong with each value that would not build a network that fits in memory (``flag`` names a
    setting: fit.py's option by default)."""
    problems = [
        f"{flag(name)} must be {rule}"
        for name, ok, rule in [
            ("model", arch in ARCHS, f"one of {', '.join(ARCHS)}"),
            ("hidden", all(h >= 1 for h in hidden), "positive sizes"),
            ("channels", arch != "cnn" or min(channels, default=0) >= 1, "positive widths"),
            (
                "channels",
                arch != "cnn" or len(channels) <= MAX_STAGES,
                f"at most {MAX_STAGES} widths (each stage halves the {IMAGE_SIZE}-pixel side)",
            ),
            ("dropout", 0 <= dropout < 1, "in [0, 1)"),
            ("schedule", schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
            (
                "permute_pixels",
                permute_pixels is None or 0 <= permute_pixels <= MAX_SEED,
                "a seed from 0 to 2**32 - 1",
            ),
        ]
        if not ok
    ]
    if not problems:
        count = parameter_count(arch, channels, hidden)
        if count > MAX_PARAMS:
            widths = f"{flag('channels')} and {flag('hidden')}" if arch == "cnn" else flag("hidden")
            problems.append(
                f"{widths} make {count:,} parameters, more than the {MAX_PARAMS:,} that fit in memory; "
                "pick smaller widths"
            )
    return problems


def run_problems(cfg) -> list[str]:
    """What is wrong with each value of a resolved FitConfig that cannot train."""
    problems = [
        f"{option(name)} must be {rule}"
        for name, ok, rule in [
            ("epochs", cfg.epochs >= 1, "at least 1"),
            ("epochs", cfg.epochs <= MAX_EPOCHS, f"at most {MAX_EPOCHS:,}"),
            ("batch_size", cfg.batch_size >= 1, "at least 1"),
            ("batch_size", cfg.batch_size <= MAX_BATCH, f"at most {MAX_BATCH:,} (the whole training set)"),
            ("lr", cfg.lr > 0 or math.isnan(cfg.lr), "above 0"),
            ("lr", math.isfinite(cfg.lr), "a finite number"),
            ("weight_decay", cfg.weight_decay >= 0 or math.isnan(cfg.weight_decay), "0 or more"),
            ("weight_decay", math.isfinite(cfg.weight_decay), "a finite number"),
            ("label_smoothing", 0 <= cfg.label_smoothing < 1, "in [0, 1)"),
            ("translate", cfg.translate >= 0, "0 or more"),
            ("translate", cfg.translate < IMAGE_SIZE, f"at most {IMAGE_SIZE - 1} pixels"),
            ("seed", 0 <= cfg.seed <= MAX_SEED, "from 0 to 2**32 - 1"),
            ("num_nodes", cfg.num_nodes >= 1, "at least 1"),
        ]
        if not ok
    ]
    problems += network_problems(
        cfg.model, cfg.channels, cfg.hidden, cfg.dropout, cfg.schedule, cfg.permute_pixels
    )
    if cfg.num_nodes > 1 and not any(v in os.environ for v in CLUSTER_VARIABLES):
        problems.append(
            "--num-nodes must be 1 outside a multi-node launch (torchrun, SLURM, or MASTER_ADDR and "
            "NODE_RANK set on every machine): the run would wait for nodes that never come"
        )
    problems += _precision_problems(cfg.precision, cfg.accelerator) + _strategy_problems(cfg.strategy)
    return problems + _device_problems(cfg.accelerator, cfg.devices)


def _precision_problems(precision: str, accelerator: str) -> list[str]:
    """A precision that fails on the first batch, or that Lightning would silently change on a CPU."""
    if precision not in PRECISIONS:
        return [f"--precision must be one of {', '.join(PRECISIONS)}: the network takes float32 images, so "
                "it trains in float32 or in mixed precision"]  # fmt: skip
    if precision in CUDA_ONLY and accelerator in ("cpu", "auto") and device_kind(accelerator) == "cpu":
        here = ", ".join(p for p in PRECISIONS if p not in CUDA_ONLY)
        return [f"--precision {precision} needs a CUDA GPU (on a CPU, Lightning would train in "
                f"bf16-mixed instead); use one of {here}"]  # fmt: skip
    return []


def _strategy_problems(strategy: str) -> list[str]:
    """A strategy that trains in processes it starts itself (spawn, fork, XLA): the test report stays in
    those processes, so fit.py has nothing to report (and a fork can hang on the threads it copies)."""
    if strategy == "auto":
        return []  # no need to import Lightning for the default
    from pytorch_lightning.strategies import StrategyRegistry, XLAStrategy

    name = strategy.lower()  # as Lightning reads it
    if name not in StrategyRegistry:
        return []  # not a name Lightning knows: it says so itself
    entry = StrategyRegistry[name]  # the registry's own get() builds the strategy; this only looks
    if entry["init_params"].get("start_method", "popen") == "popen" and not issubclass(
        entry["strategy"], XLAStrategy
    ):
        return []  # one process per device, each running fit.py: its own test results
    return [f"--strategy {strategy} trains in processes it starts itself, whose results never come back "
            "to fit.py; use --strategy ddp, which fit.py supports"]  # fmt: skip


def folder_problems(cfg) -> list[str]:
    """--checkpoint-dir or --logdir where a file (or a FIFO, or a broken link) is in the way of the folder,
    or of one of its parents: nothing could be written there, so it is refused before any work."""
    from pixelsense.files import destination, folder_problem

    problems = []
    for name in ("checkpoint_dir", "logdir"):
        folder, flag = getattr(cfg, name), option(name)
        destination(flag, folder)  # a write error there names this option
        if problem := folder_problem(flag, folder):
            problems.append(problem)
    return problems


def _device_problems(accelerator: str, devices: str) -> list[str]:
    """--devices as a count that this machine does not have (other forms are left to Lightning)."""
    if not devices.strip().isdigit():
        return []
    wanted = int(devices)
    if accelerator == "auto":
        accelerator = device_kind(accelerator)
    if accelerator == "cpu":
        have, what = os.cpu_count() or 1, "CPU core"
    elif accelerator in ("gpu", "cuda"):
        import torch

        have, what = torch.cuda.device_count(), "CUDA GPU"
    else:
        return []
    if wanted < 1:
        return ["--devices must be at least 1"]
    if have and wanted > have:  # no GPU at all: Lightning says so itself
        return [f"--devices must be at most {have}: this machine has {have} {what}{'s' * (have > 1)}"]
    return []
