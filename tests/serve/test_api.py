"""The API against predict.py: the same decoding, conversion and model give the same classes and
probabilities, on test items and on photos; the models' cards; where each model looks and its shifted answers
are explain.py's functions; the page loads nothing from another host."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from serving import running

from pixelsense.cli import predict_main
from pixelsense.infer import looks
from pixelsense.infer.arrays import read_idx
from pixelsense.infer.images import read_uploads
from pixelsense.study.photosets import STYLES, encode, photo

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "FashionMNIST" / "raw"
MODELS = ("ann", "cnn")
server = pytest.fixture(scope="module")(running)


def test_health_models_and_a_page_with_nothing_from_another_host(server):
    assert server.client.get("/api/v1/health").json() == {"status": "ok"}
    cards = server.client.get("/api/v1/models").json()
    assert [card["name"] for card in cards] == list(MODELS)
    for card in cards:
        shipped = json.loads((ROOT / "checkpoints" / f"{card['name']}.json").read_text())
        assert card["architecture"] == card["name"] and card["parameters"] == shipped["params"]
        assert card["test_accuracy"] == round(shipped["test_accuracy"], 4) and len(card["classes"]) == 10
    page = server.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("/static/page.js", "/static/page.css", "/static/examples/examples.json"):
        assert server.client.get(asset).status_code == 200, asset
    static = ROOT / "pixelsense" / "serve" / "static"
    for text in [page.text, *(p.read_text() for p in static.glob("*.*"))]:
        assert not re.search(r"(src|href)=\"(https?:)?//|url\((https?:)?//|fetch\(\"https?:", text)
    schema = server.client.get("/openapi.json").json()
    assert {"/api/v1/predict", "/api/v1/explain", "/api/v1/models", "/api/v1/health"} <= set(schema["paths"])
    assert server.client.get("/docs").status_code == 404  # its page would load Swagger UI from a CDN


def files_for(tmp: Path, count: int) -> list[Path]:
    """``count`` test items as 28×28 PNGs and, from the same items, product photos (dark garment on a light
    background, JPEG) of the photo sets."""
    items = read_idx(RAW / "t10k-images-idx3-ubyte")[:count]
    rng = np.random.default_rng(0)
    paths = []
    for i, item in enumerate(items):
        Image.fromarray(item).save(tmp / f"item{i:03d}.png")
        style = STYLES["product-jpeg"] if i % 2 else STYLES["product-gradient"]
        (tmp / f"photo{i:03d}.jpg").write_bytes(encode(photo(item, style, rng), style, rng))
        paths += [tmp / f"item{i:03d}.png", tmp / f"photo{i:03d}.jpg"]
    return paths


@pytest.mark.parametrize("model", MODELS)
def test_the_api_answers_what_predict_py_writes(server, tmp_path, model):
    paths = files_for(tmp_path, 24)
    out = tmp_path / "rows.csv"
    assert predict_main(["--model", str(ROOT / "checkpoints" / f"{model}.onnx"), str(tmp_path), "--topk", "3",
                         "--output", str(out)]) == 0  # fmt: skip
    rows = {Path(row["source"]).name: row for row in csv.DictReader(out.open())}
    answered = []
    for start in range(0, len(paths), 16):  # requests of 16 files
        files = [("files", (p.name, p.read_bytes())) for p in paths[start : start + 16]]
        response = server.client.post("/api/v1/predict", files=files, data={"topk": "3"})
        assert response.status_code == 200, response.text
        answered += response.json()["results"]
    assert [r["file"] for r in answered] == [p.name for p in paths]
    for result in answered:
        row, guesses = rows[result["file"]], result["models"][model]
        assert result["polarity"] == row["polarity"]
        assert [g["class"] for g in guesses] == [row["class"], row["top2_class"], row["top3_class"]]
        written = [row["confidence"], row["top2_confidence"], row["top3_confidence"]]
        assert [g["probability"] for g in guesses] == pytest.approx([float(c) for c in written], abs=1e-6)
        picture = read_uploads([(result["file"], (tmp_path / result["file"]).read_bytes())], "auto")[
            0
        ].images[0]
        assert np.array_equal(np.array(result["picture"], np.uint8), picture)


def test_the_api_scores_the_whole_test_set_as_predict_py_does(server, tmp_path):
    """All 10,000 test items sent as PNG files, read as they are (``invert=off``, as predict.py reads an IDX
    file): each model's accuracy is the one predict.py prints on the IDX file, its card's."""
    from pixelsense.infer.labels import load_labels

    items, labels = read_idx(RAW / "t10k-images-idx3-ubyte"), load_labels(str(RAW / "t10k-labels-idx1-ubyte"))
    right = dict.fromkeys(MODELS, 0)
    for start in range(0, len(items), 32):
        files = []
        for i, item in enumerate(items[start : start + 32]):
            png = tmp_path / "x.png"
            Image.fromarray(item).save(png)
            files.append(("files", (f"{start + i}.png", png.read_bytes())))
        for result in server.client.post("/api/v1/predict", files=files, data={"invert": "off"}).json()[
            "results"
        ]:
            for model in MODELS:
                right[model] += result["models"][model][0]["label"] == labels[int(result["file"][:-4])]
    for model in MODELS:
        card = json.loads((ROOT / "checkpoints" / f"{model}.json").read_text())
        assert f"{right[model] / len(items):.4f}" == f"{card['test_accuracy']:.4f}"


def test_explain_is_explain_py_s_occlusion_map_and_the_shifted_pictures(server):
    path = ROOT / "pixelsense" / "serve" / "static" / "examples" / "coat-17-photo.jpg"
    response = server.client.post("/api/v1/explain", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 200, response.text
    answer = response.json()
    picture = np.array(answer["picture"], np.uint8)
    assert answer["polarity"] == "dark-on-light" and answer["reach"] == looks.REACH
    assert [tuple(s) for s in answer["shifts"]] == looks.shifts()
    for model in MODELS:
        session = ort.InferenceSession(str(ROOT / "checkpoints" / f"{model}.onnx"))

        def predict(x: np.ndarray, session=session) -> np.ndarray:
            return session.run(["probabilities"], {"images": x[:, None]})[0]

        mine = answer["models"][model]
        label = mine["predictions"][0]["label"]
        assert label == int(predict(picture[None])[0].argmax()) and len(mine["predictions"]) == 3
        expected = looks.occlusion_map(predict, picture, label)
        assert np.allclose(np.array(mine["occlusion"]), expected, atol=1e-4)
        shifted = predict(looks.shifted(picture)).argmax(1).tolist()
        assert [g["label"] for g in mine["shifted"]] == shifted and len(shifted) == 81
        assert mine["shifted"][40]["label"] == label  # the middle of the 81 is the picture itself
