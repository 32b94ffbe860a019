"""A training run's whole configuration: the default recipe per model, the command line built from it,
and the JSON file a run is saved as (and can be re-run from with ``--config``)."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pixelsense.constants import ARCHS, SCHEDULES
from pixelsense.errors import PixelsenseError, first_line
from pixelsense.train.checks import CUDA_ONLY, PRECISIONS
from pixelsense.train.hardware import device_kind

# The default recipe of each model on each kind of device; the README's results come from these exact
# values (the CPU ones). A GPU step costs about the same for 256 images as for 1024, so the GPU recipes
# take bigger batches, with the peak learning rate scaled up, to train in far fewer steps.
_CPU = {
    "ann": dict(
        epochs=25, batch_size=256, lr=2e-3, weight_decay=1e-4, dropout=0.2, label_smoothing=0.0,
        schedule="onecycle", hidden=(512, 256), channels=(), flip=True, translate=0,
    ),
    "cnn": dict(
        epochs=20, batch_size=256, lr=3e-3, weight_decay=5e-4, dropout=0.2, label_smoothing=0.1,
        schedule="onecycle", hidden=(128,), channels=(32, 64), flip=True, translate=1,
    ),
}  # fmt: skip
RECIPES: dict[str, dict[str, dict]] = {
    "cpu": _CPU,
    "gpu": {
        "ann": {**_CPU["ann"], "batch_size": 1024, "lr": 4e-3},
        "cnn": {**_CPU["cnn"], "batch_size": 512, "epochs": 24, "lr": 4e-3},
    },
}
RECIPE_FIELDS = tuple(_CPU["cnn"])  # the FitConfig fields that a recipe fills in
MAX_CONFIG_BYTES = 1_000_000  # a saved config.json is about 1 KB; more is not one


def _opt(help: str, default=None, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class FitConfig:
    model: str = _opt("which network to train", "cnn", choices=ARCHS)
    # Recipe values: None means "the model's default recipe" (RECIPES).
    epochs: int | None = _opt("training epochs")
    batch_size: int | None = _opt("images per batch (per device)")
    lr: float | None = _opt("peak learning rate of AdamW")
    weight_decay: float | None = _opt("AdamW weight decay (weights only, not biases or norms)")
    dropout: float | None = _opt("dropout before each dense layer")
    label_smoothing: float | None = _opt("cross-entropy label smoothing")
    schedule: str | None = _opt("learning-rate schedule", choices=SCHEDULES)
    hidden: tuple[int, ...] | None = _opt("dense hidden sizes, e.g. --hidden 512 256", nargs="+")
    channels: tuple[int, ...] | None = _opt("CNN conv widths per pooling stage", nargs="+")
    flip: bool | None = _opt("random horizontal flip in training")
    translate: int | None = _opt("random translation in training, at most this many pixels")
    # A control, not a recipe value: the same images with their pixels in one fixed random order.
    permute_pixels: int | None = _opt(
        "move the 784 pixels of every image (train, validation, test, after augmentation) by one fixed "
        "permutation drawn from this seed; the model carries it, so its export takes ordinary images"
    )
    recipe: str = _opt("the default recipe: auto (gpu on a CUDA GPU, else cpu), cpu or gpu", "auto",
                       choices=("auto", *RECIPES))  # fmt: skip
    # The run itself.
    seed: int = _opt("seed for the train/val split, initialisation and augmentation", 0)
    data_dir: str = _opt("where Fashion-MNIST lives (or is put)", "data", path=True)
    download: bool = _opt("allow torchvision's download when no local copy is found", True)
    accelerator: str = _opt("auto, cpu or gpu", "auto", choices=("auto", "cpu", "gpu", "cuda", "mps"))
    devices: str = _opt("number of devices, a list like 0,1, or auto", "auto")
    strategy: str = _opt("Lightning strategy, e.g. ddp (not one that spawns processes, as ddp_spawn)", "auto")
    num_nodes: int = _opt("machines for multi-node DDP", 1)
    precision: str = _opt(
        "auto (bf16-mixed on a GPU that has it, else 32-true), "
        + ", ".join(p + " (a CUDA GPU only)" * (p in CUDA_ONLY) for p in PRECISIONS[1:]),
        "auto",
    )
    checkpoint_dir: str | None = _opt(
        "where checkpoints and metrics.json go (default checkpoints/<model>)", path=True
    )
    logdir: str = _opt("TensorBoard log folder", "runs", path=True)
    cuda_graphs: bool = _opt(
        "on one CUDA GPU, replay the network's training forward and backward as CUDA graphs", True
    )
    export: bool = _opt("write a verified model.onnx next to the checkpoints after training", True)
    fast_dev_run: bool = _opt("run one batch of each stage to check that everything works", False)
    resume: bool = _opt("continue from <checkpoint-dir>/last.ckpt", False)

    def resolved(self) -> FitConfig:
        """A checked copy with every recipe value and the checkpoint folder filled in."""
        if self.model not in ARCHS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(ARCHS)}.")
        name = self.recipe if self.recipe in RECIPES else device_kind(self.accelerator)
        recipe = RECIPES[name][self.model]
        values = {
            k: recipe[k] if getattr(self, k) is None and k in recipe else getattr(self, k) for k in _names()
        }
        values["recipe"] = name
        values["hidden"], values["channels"] = tuple(values["hidden"]), tuple(values["channels"])
        values["checkpoint_dir"] = self.checkpoint_dir or str(Path("checkpoints") / self.model)
        config = FitConfig(**values)
        config._check()
        return config

    def _check(self) -> None:
        from pixelsense.train.checks import run_problems

        problems = run_problems(self)
        if problems:
            raise ConfigError("; ".join(problems) + ".")

    def command_line(self) -> str:
        """The fit.py command of this configuration: the options set to other than their defaults."""
        from pixelsense.train.checks import option

        parts, default = ["python scripts/fit.py"], FitConfig()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name) and f.name != "model":  # the model is always named
                continue
            if isinstance(value, bool):
                parts.append(option(f.name) if value else option(f"no_{f.name}"))
            else:
                parts += [option(f.name), *map(str, value if isinstance(value, tuple) else [value])]
        return " ".join(parts)

    def to_json(self) -> str:
        values = dataclasses.asdict(self)
        values.pop("resume")  # how a run started, not what it is
        return json.dumps(values, indent=2)


def _names() -> list[str]:
    return [f.name for f in dataclasses.fields(FitConfig)]


class ConfigError(PixelsenseError):
    """A configuration file that cannot be used; the message says why."""


def load_config(path: str) -> dict:
    """The settings in a saved run configuration, each of the type its option takes (argparse checks the
    command line, not the defaults it is given)."""
    from pixelsense.paths import not_regular
    from pixelsense.train.checks import base_type, type_problem

    redo = "pass a config.json saved by fit.py"
    if Path(path).is_dir():
        raise ConfigError(f"the run configuration {path} is a folder; {redo}.")
    if (problem := not_regular(Path(path))) and "does not exist" not in problem:  # a FIFO would hang
        raise ConfigError(f"the run configuration {path} {problem}; {redo}.")
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_CONFIG_BYTES + 1)
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError(f"the run configuration {path} is over {MAX_CONFIG_BYTES:,} bytes; {redo}.")
        values = json.loads(text)
    except OSError as err:
        reason = err.strerror or err
        raise ConfigError(f"cannot read the run configuration {path} ({reason}); {redo}.") from None
    except (ValueError, RecursionError) as err:  # not JSON, not text, or nested past Python's stack
        reason = first_line(err)
        raise ConfigError(f"the run configuration {path} is not JSON ({reason}); {redo}.") from None
    if not isinstance(values, dict):
        shown = json.dumps(values)[:40]
        raise ConfigError(f"{path} holds {shown}, not a JSON object of settings; {redo}.")
    fields = {f.name: f for f in dataclasses.fields(FitConfig)}
    hints = typing.get_type_hints(FitConfig)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ConfigError(f"{path} has unknown settings ({names}); remove them or {redo}.")
    for name, value in values.items():
        # A saved run has every recipe value filled in: null stays a value only where it means one.
        hint = base_type(hints[name])[0] if name in RECIPE_FIELDS else hints[name]
        expected = type_problem(value, hint, fields[name].metadata.get("choices", ()))
        if expected:
            given = json.dumps(value)
            raise ConfigError(f"{path}: {name!r} must be {expected}, not {given}; fix it or {redo}.")
    return values


def shown(value) -> str:
    """A value as it is typed on the command line: a list of widths as ``32 64``."""
    return " ".join(map(str, value)) if isinstance(value, tuple | list) else str(value)
