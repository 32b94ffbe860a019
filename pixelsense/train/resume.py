"""Whether a run may start in its checkpoint folder, and what --resume continues from: the checks that keep
a new run from mixing with another's files and a resumed run from becoming another run."""

from __future__ import annotations

import json
from pathlib import Path

from pytorch_lightning.utilities import rank_zero_only

from pixelsense.errors import PixelsenseError
from pixelsense.files import read_small
from pixelsense.paths import not_regular
from pixelsense.train.checkpoints import read_checkpoint
from pixelsense.train.checks import option
from pixelsense.train.config import RECIPE_FIELDS, FitConfig, shown

# What a checkpoint must hold for --resume to go on exactly: optimiser, schedule, loop and callback states.
RESUME_STATE = ("state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks")
RUN_FILES = ("last.ckpt", "metrics.json", "model.onnx", "config.json")  # besides best-*.ckpt


class ResumeError(PixelsenseError):
    """--resume cannot continue; the message says why and what to do."""


def resume_path(cfg: FitConfig) -> str | None:
    """The ``last.ckpt`` that ``--resume`` continues, once it is checked to be this run's; None for a new run,
    once its folder is checked to hold no other run. ResumeError (one line) otherwise."""
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
        return json.loads(read_small(Path(cfg.checkpoint_dir) / "metrics.json")).get("epochs") == epochs
    except (OSError, ValueError, AttributeError):  # missing, unreadable, or not this project's
        return False


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
