"""The models a server answers with: each opened and checked as predict.py opens one, with its card."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixelsense.errors import PixelsenseError
from pixelsense.files import read_small
from pixelsense.infer.engine import ModelError, open_model, probabilities, unpredicted


@dataclass
class Served:
    """One model: its name (the file's stem), session, class names and what the page shows of it."""

    name: str
    session: object = field(repr=False)
    classes: list[str]
    card: dict

    def probabilities(self, pictures: np.ndarray, source: str) -> np.ndarray:
        """``predict`` without the NaN check: ModelError only where the model fails on the batch."""
        return probabilities(self.session, pictures, self.name, source)

    def predict(self, pictures: np.ndarray, source: str = "the upload") -> np.ndarray:
        """uint8 pictures ``[N, 28, 28]`` (of ``source``) → probabilities ``[N, classes]``; ModelError where
        the model fails on them or gives one no probabilities (NaN), as predict.py fails such an image."""
        found = self.probabilities(pictures, source)
        if unpredicted(found).any():
            raise ModelError(
                f"{self.name} gives {source} no probabilities (NaN or infinity), so it has no class."
            )
        return found


def open_models(paths: list[str]) -> list[Served]:
    """Every model opened and checked now (ModelError: one line); one onnxruntime thread a call, so that
    requests run side by side on the cores. Two models may not share a name: the API names answers by it."""
    served = []
    for path in paths:
        session, classes = open_model(path, "cpu", threads=1)
        meta = session.get_modelmeta().custom_metadata_map
        served.append(Served(Path(path).stem, session, classes, _card(Path(path), meta, classes)))
    names = [model.name for model in served]
    if len(set(names)) < len(names):
        raise PixelsenseError(f"two --models share the name {_twice(names)!r}; the API names each answer by "
                              "its file's name, so rename one.")  # fmt: skip
    return served


def _twice(names: list[str]) -> str:
    return next(name for name in names if names.count(name) > 1)


def _card(path: Path, meta: dict[str, str], classes: list[str]) -> dict:
    """What the models route says of a model: from its export's metadata, and its parameters from the card
    fit.py wrote beside it (``<name>.json``), where there is one."""
    try:
        accuracy = float(meta.get("test_accuracy", ""))
    except ValueError:
        accuracy = None
    try:
        parameters = json.loads(read_small(path.with_suffix(".json")))["params"]
    except (OSError, ValueError, KeyError, TypeError):
        parameters = None
    return {
        "name": path.stem,
        "architecture": meta.get("architecture"),
        "test_accuracy": accuracy,
        "parameters": parameters if isinstance(parameters, int) else None,
        "classes": classes,
    }
