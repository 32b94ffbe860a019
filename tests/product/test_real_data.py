"""Integration on the real Fashion-MNIST (``make test`` puts it in data/ first; CI installs Debian's copy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixelsense.cli import fit_main
from pixelsense.constants import CLASSES
from pixelsense.train.data import FashionMNISTDataModule
from pixelsense.train.sources import DataError, ensure_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_data() -> Path:
    data_dir = Path(os.environ.get("PIXELSENSE_DATA_DIR", ROOT / "data"))
    try:
        ensure_fashion_mnist(data_dir, download=False)
    except DataError as err:
        pytest.fail(f"the real data is needed here (run `make data`): {err}")
    return data_dir


def test_real_split_and_complete_balanced_test_set(real_data):
    dm = FashionMNISTDataModule(data_dir=str(real_data), download=False)
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55_000, 5_000, 10_000)
    assert torch.bincount(dm.test_set.labels).tolist() == [1000] * 10
    assert sum(len(y) for _, y in dm.test_dataloader()) == 10_000


@pytest.mark.slow
def test_one_ann_epoch_reaches_84_percent_and_its_metrics_agree(tmp_path, real_data):
    code = fit_main(
        ["--model", "ann", "--epochs", "1", "--batch-size", "128", "--data-dir", str(real_data),
         "--no-download", "--accelerator", "cpu", "--checkpoint-dir", str(tmp_path / "ck"),
         "--logdir", str(tmp_path / "runs")]
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "ck" / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.84

    matrix = torch.tensor(metrics["confusion_matrix"], dtype=torch.float64)
    assert matrix.sum() == 10_000
    diag, true, predicted = matrix.diag(), matrix.sum(1), matrix.sum(0)
    precision, recall = diag / predicted, diag / true
    f1 = 2 * precision * recall / (precision + recall)
    assert metrics["test_accuracy"] == pytest.approx((diag.sum() / 10_000).item(), abs=1e-6)
    assert metrics["test_precision_macro"] == pytest.approx(precision.mean().item(), abs=1e-5)
    assert metrics["test_recall_macro"] == pytest.approx(recall.mean().item(), abs=1e-5)
    assert metrics["test_f1_macro"] == pytest.approx(f1.mean().item(), abs=1e-5)
    for i, name in enumerate(CLASSES):
        row = metrics["per_class"][name]
        assert row["support"] == true[i] == 1000
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(
            (precision[i].item(), recall[i].item(), f1[i].item()), abs=1e-5
        )


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_counts_every_test_image_once(tmp_path, real_data):
    # A subprocess: Lightning's DDP launcher starts the script again for rank 1.
    command = [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", "ann", "--epochs", "1",
               "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--data-dir", str(real_data),
               "--no-download", "--checkpoint-dir", str(tmp_path / "ck"),
               "--logdir", str(tmp_path / "runs")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 × cpu" in done.stdout
    metrics = json.loads((tmp_path / "ck" / "metrics.json").read_text())
    matrix = torch.tensor(metrics["confusion_matrix"])
    assert matrix.sum() == 10_000 and matrix.sum(1).tolist() == [1000] * 10
    assert metrics["test_accuracy"] == pytest.approx(matrix.trace().item() / 10_000, abs=1e-6)
    # The most confident mistakes are those of the whole test set: each rank's, merged.
    from pixelsense.study.evaluate import checkpoint_predictor
    from pixelsense.train.data import official_test_set
    from pixelsense.train.report import ConfidentMistakes

    images, labels = official_test_set(real_data)
    everything = ConfidentMistakes()
    everything.update(images, labels, checkpoint_predictor(metrics["best_checkpoint"])(images))
    expected = everything.compute()
    shown = metrics["most_confident_mistakes"]
    assert [(m["true"], m["predicted"]) for m in shown] == [
        (CLASSES[t], CLASSES[p])
        for t, p in zip(expected.true.tolist(), expected.predicted.tolist(), strict=True)
    ]
    assert [m["confidence"] for m in shown] == pytest.approx(expected.confidence.tolist(), abs=1e-3)


@pytest.mark.slow
def test_exported_onnx_accuracy_equals_the_checkpoints(tmp_path, real_data):
    import onnxruntime as ort
    from torchvision.datasets import FashionMNIST

    code = fit_main(
        ["--model", "cnn", "--epochs", "1", "--channels", "8", "16", "--hidden", "32", "--data-dir",
         str(real_data), "--no-download", "--accelerator", "cpu", "--checkpoint-dir", str(tmp_path / "ck"),
         "--logdir", str(tmp_path / "runs")]
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "ck" / "metrics.json").read_text())
    test = FashionMNIST(str(real_data), train=False)
    session = ort.InferenceSession(str(tmp_path / "ck" / "model.onnx"), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"images": test.data[:, None].numpy()})
    accuracy = (probabilities.argmax(1) == test.targets.numpy()).mean()
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-4)  # at most one image apart


@pytest.mark.slow
def test_explain_quick_makes_every_file_from_the_real_data(tmp_path, real_data, capsys):
    from pixelsense.cli import explain_main
    from pixelsense.study.explain import EXPERIMENTS, FILES, SHIFT_CURVES, most_confused_pair
    from pixelsense.study.why_report import conclusion, markdown

    out = tmp_path / "why"
    out.mkdir()
    (out / "why.md").write_text("a real report")  # a quick run never replaces it
    args = ["--quick", "--seeds", "1", "--data-dir", str(real_data), "--no-download", "--output-dir", str(out),
            "--compare-dir", str(tmp_path / "no-compare")]  # fmt: skip
    assert explain_main(args) == 0
    assert f"wrote why.md, why.json, shift_robustness.png, features.png, saliency.png to {out / 'quick'}" in (
        capsys.readouterr().out
    )
    assert (out / "why.md").read_text() == "a real report"
    out = out / "quick"
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(FILES)
    for name in FILES:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (
                out / name
            ).stat().st_size > 20_000

    why = json.loads((out / "why.json").read_text())
    assert why["quick"] is True and why["command"] == "python scripts/explain.py " + " ".join(args)
    assert {r["experiment"] for r in why["runs"]} == set(EXPERIMENTS)
    assert all(r["config"]["epochs"] == 1 and r["seed"] == 0 for r in why["runs"])
    for arch in ("ann", "cnn"):
        for kind in ("plain", "permuted"):
            stat = why["permutation"][arch][kind]
            assert stat["n"] == 1 and stat["runs"] == [stat["mean"]] and 0.5 < stat["mean"] < 1
    assert why["shift"]["pixels"] == [0, 1, 2, 3, 4]
    for name in SHIFT_CURVES:
        (run,) = [r for r in why["runs"] if r["experiment"] == name]
        # unshifted, onnxruntime on the export agrees with fit.py's own test of the checkpoint
        assert why["shift"][name][0] == pytest.approx(run["test_accuracy"], abs=2e-4)
        assert why["shift"][name][4] < why["shift"][name][0]
    plain = [r for r in why["runs"] if r["experiment"] in ("ann", "cnn")]
    pair = most_confused_pair([json.loads(Path(r["best_checkpoint"]).with_name("metrics.json").read_text())
                               ["confusion_matrix"] for r in plain])  # fmt: skip
    assert why["pair"] == [CLASSES[c] for c in pair] and len(why["saliency"]) >= 2
    assert (out / "why.md").read_text() == markdown(why)
    assert why["conclusion"] == conclusion(why) and len(why["conclusion"]) >= 6
