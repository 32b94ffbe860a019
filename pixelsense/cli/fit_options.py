"""fit.py's command line, built from FitConfig's fields (one option per field, its help from the field and the
recipes), and a saved config.json as its defaults."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

from pixelsense.cli.options import Parser, path
from pixelsense.train.checks import base_type, option
from pixelsense.train.config import RECIPE_FIELDS, RECIPES, ConfigError, FitConfig, load_config, shown


def _help(f: dataclasses.Field) -> str:
    if f.name in RECIPE_FIELDS:
        defaults = "; ".join(
            f"{device}: " + ", ".join(f"{model} {shown(recipe[f.name])}" for model, recipe in models.items())
            for device, models in RECIPES.items()
        )
        return f"{f.metadata['help']} (default {defaults})"
    return f"{f.metadata['help']} (default: {shown(f.default)})"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        description="Train the ANN or the CNN on Fashion-MNIST, test the best checkpoint, "
        "write metrics.json.",
    )
    parser.add_argument(
        "--config", type=path, help="re-run from a saved config.json (other options override it)"
    )
    hints = typing.get_type_hints(FitConfig)
    for f in dataclasses.fields(FitConfig):
        meta = {k: v for k, v in f.metadata.items() if k not in ("help", "path")}
        kind, _ = base_type(hints[f.name])
        if kind is bool:
            action = "store_true" if f.default is False else argparse.BooleanOptionalAction
            parser.add_argument(option(f.name), action=action, default=f.default, help=_help(f))
            continue
        kind = int if kind is tuple else path if f.metadata.get("path") else kind  # tuples: of integers
        parser.add_argument(option(f.name), type=kind, default=f.default, help=_help(f), **meta)
    return parser


def parse_config(argv: list[str]) -> FitConfig:
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.config:
        saved = load_config(first.config)
        model_given = any(a == "--model" or a.startswith("--model=") for a in argv)
        if model_given and "model" in saved and first.model != saved["model"]:
            raise ConfigError(
                f"{first.config} is a {saved['model']} run; drop --model or use its own config."
            )
        parser.set_defaults(**saved)
    args = vars(parser.parse_args(argv))
    args.pop("config")
    try:
        return FitConfig(**args).resolved()
    except ConfigError as err:  # a value the --config file set, not the command line: say where it is
        flag = re.match(r"--[\w-]+", str(err))
        given = flag and any(a == flag[0] or a.startswith(flag[0] + "=") for a in argv)
        if first.config and flag and not given:
            raise ConfigError(f"--config {first.config} sets it: {err}") from None
        raise
