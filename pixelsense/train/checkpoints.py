"""Reading what fit.py wrote: a checkpoint, loaded safely (``weights_only``) or refused in one sentence
before anything is built from it, and the run card (``metrics.json``) beside it."""

from __future__ import annotations

import json
import os
import typing
import warnings
from pathlib import Path

import torch

from pixelsense.constants import ARCHS
from pixelsense.errors import PixelsenseError, first_line
from pixelsense.files import read_small
from pixelsense.paths import not_regular


class CheckpointError(PixelsenseError):
    """The file is not a pixelsense checkpoint that can be loaded; the message says why and what to do."""


def load_checkpoint(path: str | os.PathLike):
    """The Classifier in a pixelsense checkpoint (weights_only loading), in eval mode; CheckpointError for
    a file that is not one, before anything is built from it."""
    from pixelsense.train.module import Classifier

    path, redo = Path(path), "pass a .ckpt written by scripts/fit.py"
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint; {redo}.")
    if (problem := not_regular(path)) and "does not exist" not in problem:  # torch.load would wait on a FIFO
        raise CheckpointError(f"{path} {problem}; {redo}.")
    try:
        state = read_checkpoint(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist; {redo}.") from None
    except Exception as err:  # unpickling reports bad files in many ways
        reason = type(err).__name__
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({reason}); {redo}.") from None
    hparams = state.get("hyper_parameters") if isinstance(state, dict) else None
    if not isinstance(hparams, dict) or hparams.get("arch") not in ARCHS:
        raise CheckpointError(f"{path} is not a pixelsense checkpoint (no ANN/CNN hyperparameters); {redo}.")
    if not isinstance(state.get("state_dict"), dict):
        raise CheckpointError(f"{path} holds no weights (no state_dict); {redo}.")
    problems = _hparam_problems(hparams, Classifier)
    if problems:
        raise CheckpointError(f"{path} has hyperparameters no network can be built from "
                              f"({'; '.join(problems)}); {redo}.")  # fmt: skip
    try:
        return Classifier.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
    except (RuntimeError, KeyError, TypeError, ValueError) as err:  # weights that do not fit the network
        reason = first_line(err)
        raise CheckpointError(f"{path} does not load as a pixelsense model ({reason}); {redo}.") from None


def read_checkpoint(path: str | os.PathLike) -> object:
    """What a checkpoint file holds, unpickled with ``weights_only`` (no code runs). torch's warning about an
    unfamiliar pickle protocol is dropped: a file that is not a checkpoint is refused in one sentence."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def _hparam_problems(hparams: dict, classifier) -> list[str]:
    """What is wrong with a checkpoint's hyperparameters, read as the Classifier's typed ``__init__`` reads
    them (a missing one takes its default): types first, then the ranges fit.py allows, size included."""
    import inspect

    from pixelsense.train.checks import network_problems, type_problem

    params = inspect.signature(classifier.__init__).parameters
    hints = typing.get_type_hints(classifier.__init__)
    values = {name: hparams.get(name, p.default) for name, p in params.items() if name != "self"}
    problems = [
        f"{name} must be {expected}, not {str(value)[:40]}"
        for name, value in values.items()
        if (expected := type_problem(value, hints[name]))
    ]
    if problems:
        return problems
    network = [values[k] for k in ("arch", "channels", "hidden", "dropout", "schedule", "permute_pixels")]
    return network_problems(*network, flag=lambda name: name.replace("model", "arch"))


def run_card(ckpt: str | os.PathLike) -> dict:
    """What fit.py recorded about the run that wrote ``ckpt`` (the metrics.json beside it, when it names
    this checkpoint as its best), else {}."""
    ckpt = Path(ckpt)
    try:
        metrics = json.loads(read_small(ckpt.parent / "metrics.json"))
    except (OSError, ValueError):
        return {}
    named = isinstance(metrics, dict) and Path(str(metrics.get("best_checkpoint", ""))).name == ckpt.name
    return metrics if named else {}


def card_accuracy(ckpt: str | os.PathLike) -> float | None:
    """The test accuracy that fit.py recorded for this checkpoint, if any."""
    return run_card(ckpt).get("test_accuracy")
