"""The models shipped in checkpoints/ classify the real official test set as well as their cards say."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from torchvision.datasets import FashionMNIST

from pixelsense.train.sources import ensure_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["ann", "cnn"])
def test_shipped_model_matches_its_card(name):
    card = json.loads((ROOT / "checkpoints" / f"{name}.json").read_text())
    path = ROOT / "checkpoints" / card["onnx"]
    assert path.stat().st_size < 8 * 2**20
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["onnx_sha256"]
    assert card["command"] == f"python scripts/fit.py --model {name}" and len(card["commit"]) == 40
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["architecture"] == name and meta["test_accuracy"] == f"{card['test_accuracy']:.4f}"

    data_dir = ROOT / "data"
    ensure_fashion_mnist(data_dir, download=False)
    test = FashionMNIST(str(data_dir), train=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"images": test.data[:, None].numpy()})
    accuracy = float((probabilities.argmax(1) == test.targets.numpy()).mean())
    assert accuracy == pytest.approx(card["test_accuracy"], abs=5e-4)


def test_evaluate_reports_the_shipped_cnn_as_its_card(tmp_path, capsys):
    from pixelsense.cli import evaluate_main

    card = json.loads((ROOT / "checkpoints" / "cnn.json").read_text())
    args = [
        "--onnx",
        str(ROOT / "checkpoints" / "cnn.onnx"),
        "--data-dir",
        str(ROOT / "data"),
        "--no-download",
    ]
    assert evaluate_main([*args, "--output-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == 10_000 and report["accuracy"] == pytest.approx(card["test_accuracy"], abs=5e-4)
    assert report["macro"]["f1"] == pytest.approx(card["test_f1_macro"], abs=5e-4)
    for name, row in card["per_class"].items():  # what torchmetrics measured during training
        assert report["per_class"][name]["f1"] == pytest.approx(row["f1"], abs=2e-3), name
        assert report["per_class"][name]["support"] == row["support"] == 1000
    accuracy_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("accuracy")
    )
    assert accuracy_line.split() == ["accuracy", f"{report['accuracy']:.4f}", "10000"]
