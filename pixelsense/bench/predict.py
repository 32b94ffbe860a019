"""``bench.py predict``: predict.py against what a user would run without it, both sides alternating in one
process (``pixelsense.bench.alternate``), for each model:

- a folder of JPEG product photos made from test items, against a naive single-process Pillow loop (open,
  grayscale, resize to 28×28, onnxruntime in batches, CSV rows): ``folder_vs_naive_decode`` = naive time /
  predict.py time, both including inference and writing;
- a .npy array and an IDX file through predict.py against onnxruntime alone on the same images already in
  memory, same batch size: ``predict_vs_engine`` = predict.py time / engine time (the worse of the two files).

Needs numpy, Pillow and onnxruntime only.
"""

from __future__ import annotations

import csv
import struct
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from pixelsense.bench import alternate
from pixelsense.study.photosets import STYLES, encode, photo, test_items

BATCH = 256  # predict.py's default --batch-size, used by every side
PHOTO = replace(STYLES["product-jpeg"], canvas=(224, 224))  # dark garments on off-white, 224 px, JPEG


def measure(models: list[str], data_dir: str, download: bool, photos: int, arrays: int, rounds: int,
            workers: int) -> list[dict]:  # fmt: skip
    """One row per model and input: images, both sides' img/s, and the ratio."""
    images, _ = test_items(data_dir, download)
    with tempfile.TemporaryDirectory(prefix="pixelsense-bench-") as tmp:
        inputs = _write_inputs(Path(tmp), images, photos, arrays)
        rows = []
        for model in models:
            rows += _measure(model, inputs, Path(tmp), rounds, workers)
    return rows


def _write_inputs(folder: Path, images: np.ndarray, photos: int, arrays: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    (folder / "photos").mkdir()
    for index in range(photos):
        item = images[index % len(images)]
        (folder / "photos" / f"{index:06d}.jpg").write_bytes(encode(photo(item, PHOTO, rng), PHOTO, rng))
    tiled = np.resize(images, (arrays, *images.shape[1:]))
    np.save(folder / "arrays.npy", tiled)
    with open(folder / "arrays-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, *tiled.shape))
        f.write(tiled.tobytes())
    return {"photos": folder / "photos", "npy": folder / "arrays.npy", "idx": folder / "arrays-idx3-ubyte"}


def _measure(model: str, inputs: dict[str, Path], tmp: Path, rounds: int, workers: int) -> list[dict]:
    from pixelsense.infer.engine import open_model

    session, _ = open_model(model, "cpu", None)
    files = sorted(str(p) for p in inputs["photos"].iterdir())
    out = str(tmp / "out.csv")
    sides = {
        "naive": lambda: _naive(files, session, model, out),
        "predict.py": lambda: _predict(model, inputs["photos"], out, workers),
    }
    seconds = alternate(sides, rounds)
    rows = [_row(model, f"{len(files):,} JPEG photos, {workers} workers", len(files), seconds, "naive")]
    in_memory = np.load(inputs["npy"])
    for kind in ("npy", "idx"):
        sides = {
            "onnxruntime": lambda: _engine(session, model, in_memory),
            "predict.py": lambda k=kind: _predict(model, inputs[k], out, workers),
        }
        label = ".npy array" if kind == "npy" else "IDX file"
        seconds = alternate(sides, rounds)
        what = f"{len(in_memory):,} images, {label}"
        rows.append(_row(model, what, len(in_memory), seconds, "onnxruntime"))
    return rows


def _row(model: str, what: str, images: int, seconds: dict[str, float], reference: str) -> dict:
    return {"model": Path(model).name, "input": what, "reference": reference,
            "reference_rate": images / seconds[reference], "predict_rate": images / seconds["predict.py"],
            "ratio": seconds["predict.py"] / seconds[reference]}  # fmt: skip


def _naive(files: list[str], session, model: str, out: str) -> None:
    """What a user writes first: each file opened, made grayscale and resized to 28×28, in one process."""
    from PIL import Image

    from pixelsense.infer.engine import probabilities as predicted

    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            images = []
            for path in batch:
                with Image.open(path) as im:
                    images.append(np.asarray(im.convert("L").resize((28, 28))))
            probabilities = predicted(session, np.stack(images), model, batch[0])
            best = probabilities.argmax(1).tolist(), probabilities.max(1).tolist()
            writer.writerows(zip(batch, *best, strict=True))


def _engine(session, model: str, images: np.ndarray) -> None:
    from pixelsense.infer.engine import probabilities

    for start in range(0, len(images), BATCH):
        probabilities(session, images[start : start + BATCH], model, f"image {start}")


def _predict(model: str, source: Path, out: str, workers: int) -> None:
    from pixelsense.infer.predict import predict_quietly

    predict_quietly(model, [str(source)], out, workers)


def table(rows: list[dict]) -> str:
    head = ("model", "input", "reference", "ref img/s", "predict img/s", "ratio")
    lines = ["{:<9} {:<34} {:>11} {:>10} {:>14} {:>6}".format(*head)]
    lines += [
        f"{r['model']:<9} {r['input']:<34} {r['reference']:>11} {r['reference_rate']:>10,.0f} "
        f"{r['predict_rate']:>14,.0f} {r['ratio']:>6.2f}"
        for r in rows
    ]
    return "\n".join(lines)
