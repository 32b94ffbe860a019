"""What the API answers, computed from uploads with numpy and onnxruntime (no HTTP here): every model's
top classes for each image and the picture it saw, and for one image where each model looks and how its answer
moves when the picture is shifted. Runs on a worker thread, never on the server's event loop."""

from __future__ import annotations

import numpy as np

from pixelsense.errors import PixelsenseError
from pixelsense.infer import looks
from pixelsense.infer.chunk import Chunk
from pixelsense.infer.engine import ModelError, unpredicted
from pixelsense.infer.images import read_uploads
from pixelsense.serve.models import Served

EXPLAINED = 3  # the classes the explain route lists per model (the page's top-3)


class Unusable(PixelsenseError):
    """No upload of a request could be used; the message names one and says why."""


def guesses(model: Served, probabilities: np.ndarray, k: int) -> list[dict]:
    """The ``k`` most probable classes, best first: label, class name, probability."""
    best = np.argsort(-probabilities, kind="stable")[:k]
    return [
        {"label": int(i), "class": model.classes[i], "probability": float(probabilities[i])} for i in best
    ]


def predict_uploads(models: list[Served], uploads: list[tuple[str, bytes]], invert: str, topk: int) -> dict:
    """One result per upload, in order: its polarity, the 28×28 picture, each model's top ``topk``; or the
    reason it cannot be used. Unusable when none can."""
    results = []
    for item in read_uploads(uploads, invert):
        if not isinstance(item, Chunk):
            results.append({"file": item.source, "error": f"{item.source} {item.reason}"})
            continue
        try:  # consecutive uploads share a batch
            answers = {model.name: model.probabilities(item.images, item.sources[0]) for model in models}
        except ModelError as err:  # the model fails on the batch: each of its files says so
            results += [{"file": name, "error": str(err)} for name in item.sources]
            continue
        for at, name in enumerate(item.sources):
            if lost := [
                model.name for model in models if unpredicted(answers[model.name][at : at + 1]).any()
            ]:
                results.append({"file": name, "error": f"{lost[0]} gives {name} no probabilities (NaN or "
                                "infinity), so it has no class."})  # fmt: skip
                continue  # this picture only: the others go on, as in predict.py
            results.append({
                "file": name, "polarity": item.polarities[at], "picture": item.images[at].tolist(),
                "models": {model.name: guesses(model, answers[model.name][at], topk) for model in models},
            })  # fmt: skip
    if all("error" in result for result in results):
        raise Unusable(results[0]["error"] + ("" if len(results) == 1 else f" (and {len(results) - 1} more)"))
    return {"results": results}


def explain_upload(models: list[Served], upload: tuple[str, bytes], invert: str) -> dict:
    """For one upload: its picture and, per model, its top classes, where it looks for the class it gives
    (explain.py's occlusion map) and its answer at every shift of ``looks.shifts()``, in that order."""
    item = read_uploads([upload], invert)[0]
    if not isinstance(item, Chunk):
        raise Unusable(f"{item.source} {item.reason}")
    picture, moved = item.images[0], looks.shifted(item.images[0])
    answers = {}
    for model in models:
        probabilities = model.predict(np.concatenate([picture[None], moved]), item.sources[0])
        label = int(probabilities[0].argmax())
        answers[model.name] = {
            "predictions": guesses(model, probabilities[0], EXPLAINED),
            "occlusion": np.round(looks.occlusion_map(model.predict, picture, label), 4).tolist(),
            "shifted": [guesses(model, p, 1)[0] for p in probabilities[1:]],
        }
    return {"file": item.sources[0], "polarity": item.polarities[0], "picture": picture.tolist(),
            "reach": looks.REACH, "shifts": looks.shifts(), "models": answers}  # fmt: skip
