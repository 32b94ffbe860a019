"""``python scripts/photos.py``: how predict.py does on photos. Synthetic photo sets (``photosets``) are
made from the same test items, each set run through predict.py itself with no flag, and scored from its
output: accuracy, and how often the polarity it chose was the photo's own. ``dataset-28`` (the items as
28×28 PNGs) is the model's test accuracy on those items, the reference for the others. numpy, Pillow and
onnxruntime only."""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from pixelsense.errors import PixelsenseError
from pixelsense.infer import photo
from pixelsense.study.photosets import STYLES, write_set

FIGURE_SETS = ("product-jpeg", "product-gradient", "product-tight", "dataset-dark-gray")  # one photo each


def score(models: list[str], images: np.ndarray, labels: np.ndarray, count: int, seed: int, out: str | None,
          sharpen: float = photo.SHARPEN) -> dict:  # fmt: skip
    """Per model and set: accuracy and polarity agreement of predict.py's rows on photos of ``count`` of the
    test items (``photosets.test_items``); the sets go to ``out`` (kept) or to a temporary folder. Each model
    is checked before anything is made (ModelError). ``sharpen``: the conversion's unsharp-mask sigma for
    this run (0: none), to measure what it is worth."""
    from pixelsense.infer.engine import open_model

    names = [Path(model).name for model in models]
    if twice := next((name for name in names if names.count(name) > 1), None):  # one column: a model lost
        given = ", ".join(model for model in models if Path(model).name == twice)
        raise PixelsenseError(f"--models {given} share the name {twice}, which names a model's column of the "
                              "table; give each model once, under a name of its own.")  # fmt: skip
    for model in models:
        open_model(model, "cpu", None)
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), count, replace=False))
    with contextlib.ExitStack() as stack:
        folder = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sets = {name: write_set(images[chosen], labels[chosen], name, folder, seed) for name in STYLES}
        before, photo.SHARPEN = photo.SHARPEN, sharpen  # predict.py runs here, its workers forked from here
        try:
            results = {Path(m).name: {name: _score(m, path, STYLES[name].dark_on_light) for name, path in
                                      sets.items()} for m in models}  # fmt: skip
        finally:
            photo.SHARPEN = before
    command = f"python scripts/photos.py --count {count} --seed {seed}"
    command += "" if sharpen == photo.SHARPEN else f" --sharpen {sharpen:g}"
    return {"command": command, "count": count, "seed": seed, "sharpen": sharpen, "models": results}


def _score(model: str, folder: Path, dark_on_light: bool) -> dict:
    """predict.py on ``folder`` (no flag), its rows read back against labels.csv."""
    from pixelsense.infer.predict import predict_quietly

    output = folder / "predictions.csv"
    predict_quietly(model, [str(folder)], str(output))
    with open(folder / "labels.csv") as f:
        truth = {row["file"]: int(row["label"]) for row in csv.DictReader(f)}
    with open(output) as f:
        rows = [row for row in csv.DictReader(f) if Path(row["source"]).name in truth]
    expected = "dark-on-light" if dark_on_light else "light-on-dark"
    return {"images": len(rows),
            "accuracy": float(np.mean([int(r["label"]) == truth[Path(r["source"]).name] for r in rows])),
            "polarity": float(np.mean([r["polarity"] == expected for r in rows]))}  # fmt: skip


def table(results: dict) -> str:
    """A Markdown table: one row per set, accuracy per model (and its gap to ``dataset-28``)."""
    models = list(results["models"])
    head = ["set", "what the photos are", *(f"{m} accuracy" for m in models), "polarity chosen right"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in STYLES:
        cells = [f"`{name}`", describe(name)]
        for m in models:
            got, reference = results["models"][m][name], results["models"][m]["dataset-28"]
            gap = 100 * (got["accuracy"] - reference["accuracy"])
            shown = f"{100 * got['accuracy']:.1f} %"
            cells.append(shown if name == "dataset-28" else f"{shown} ({gap:+.1f})")
        cells.append(f"{100 * results['models'][models[0]][name]['polarity']:.0f} %")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe(name: str) -> str:
    style = STYLES[name]
    if name == "dataset-28":
        return "the test items themselves, 28×28 PNG"
    what = "dark garment on light" if style.dark_on_light else "light garment on dark"
    level = f"background {style.background[0]}–{style.background[1]}"
    ramp = f", gradient up to {style.gradient[1]:.0f}" if style.gradient[1] else ""
    noise = f", noise σ {style.noise:g}" if style.noise else ""
    margin = f"margins {100 * style.margin[0]:.0f}–{100 * style.margin[1]:.0f} %"
    size = f"{style.canvas[0]}–{style.canvas[1]} px"
    return f"{what}, {level}{ramp}{noise}, {margin}, {size}, {style.format.upper()}"


def save(results: dict, json_path: str | None, figure: str | None, model: str, images: np.ndarray,
         labels: np.ndarray) -> None:  # fmt: skip
    from pixelsense.files import output

    if json_path:
        with output(json_path) as out:
            out.write(json.dumps(results, indent=2) + "\n")
    if figure:
        _figure(model, images, labels, figure, results["seed"])


def _figure(model: str, images: np.ndarray, labels: np.ndarray, path: str, seed: int) -> None:
    """One photo per set in FIGURE_SETS: the photo, the 28×28 picture it becomes, and the prediction."""
    from PIL import Image, ImageDraw

    from pixelsense.files import output
    from pixelsense.infer.engine import open_model
    from pixelsense.infer.engine import probabilities as predicted
    from pixelsense.infer.images import load_image

    session, classes = open_model(model, "cpu", None)
    cell, text = 112, 34
    canvas = Image.new("RGB", (len(FIGURE_SETS) * (2 * cell + 16) + 8, cell + text + 8), "white")
    draw = ImageDraw.Draw(canvas)
    with tempfile.TemporaryDirectory() as tmp:
        for column, name in enumerate(FIGURE_SETS):
            item = slice(column, column + 1)
            folder = write_set(images[item], labels[item], name, Path(tmp), seed)
            file = next(p for p in folder.iterdir() if p.name.startswith("00000"))
            small, polarity = load_image(file)
            probabilities = predicted(session, small[None], model, str(file))[0]
            left = 8 + column * (2 * cell + 16)
            with Image.open(file) as im:
                im.thumbnail((cell, cell))
                canvas.paste(im.convert("RGB"), (left + (cell - im.width) // 2, 4 + (cell - im.height) // 2))
            big = Image.fromarray(small).resize((cell, cell), Image.Resampling.NEAREST)
            canvas.paste(big, (left + cell, 4))
            best = int(probabilities.argmax())
            draw.text((left, cell + 8), f"{name}: {polarity}", fill="black")
            mark = "right" if best == labels[column] else f"true: {classes[labels[column]]}"
            said = f"-> {classes[best]} {probabilities[best]:.2f} ({mark})"
            draw.text((left, cell + 22), said, fill="black")
    with output(path, "wb") as out:
        canvas.save(out, format="PNG")
