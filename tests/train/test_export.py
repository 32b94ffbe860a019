"""ONNX export: one verified self-contained file, uint8 in, logits and probabilities out, metadata on."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from pixelsense.cli import export_main, fit_main
from pixelsense.constants import CLASSES
from pixelsense.train import export as export_module
from pixelsense.train.checkpoints import CheckpointError, load_checkpoint
from pixelsense.train.data import FashionMNISTDataModule
from pixelsense.train.export import ExportError, export
from pixelsense.train.module import Classifier


@pytest.fixture
def test_images(fake_data) -> torch.Tensor:
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False)
    data.setup("test")
    return data.test_set.images


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("arch", ["ann", "cnn"])
def test_export_matches_torch_at_any_batch_size(tmp_path, test_images, arch):
    torch.manual_seed(0)
    model = Classifier(arch=arch, channels=(8, 16), hidden=(32,)).eval()
    out = tmp_path / "out" / f"{arch}.onnx"
    diffs = export(model, out, test_images, test_accuracy=0.5)
    assert set(diffs) == {1, 7, 256} and max(diffs.values()) <= 1e-5
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # one file: no .onnx.data, no .part

    sess = session(out)
    (inp,) = sess.get_inputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("images", "tensor(uint8)", [1, 28, 28])
    assert [o.name for o in sess.get_outputs()] == ["logits", "probabilities"]
    for size in (3, 300):  # sizes never seen at export: the batch dimension is dynamic
        batch = test_images[:size].reshape(-1, 1, 28, 28)
        logits, probs = sess.run(None, {"images": batch.numpy()})
        with torch.no_grad():
            expected = model((batch.float() / 255 - 0.2860) / 0.3530).numpy()
        assert logits.shape == (size, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert np.abs(logits - expected).max() < 1e-4  # normalisation is inside the graph


def test_metadata_carries_what_a_consumer_needs(tmp_path, test_images):
    export(Classifier(arch="ann", hidden=(16,)), tmp_path / "m.onnx", test_images, test_accuracy=0.91234)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == list(CLASSES)
    assert meta["architecture"] == "ann" and meta["test_accuracy"] == "0.9123"
    assert json.loads(meta["normalization"]) == {"scale": 1 / 255, "mean": 0.2860, "std": 0.3530}
    assert meta["pixelsense_version"]
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18


def test_failed_parity_fails_the_export_and_leaves_no_file(tmp_path, test_images, monkeypatch):
    monkeypatch.setattr(export_module, "MAX_PROB_DIFF", -1.0)
    with pytest.raises(ExportError, match=r"does not match its checkpoint at batch 1 .*max \|Δprobability\|"):
        export(Classifier(arch="ann", hidden=(16,)), tmp_path / "out" / "m.onnx", test_images)
    assert not (tmp_path / "out").exists()  # not even the folder made for it


def _nan_weights(model: Classifier) -> Classifier:
    """``model`` as a diverged training leaves it: every weight NaN."""
    with torch.no_grad():
        for weight in model.parameters():
            weight.fill_(float("nan"))
    return model


def test_a_model_that_gives_nan_is_not_exported(tmp_path, test_images):
    model = _nan_weights(Classifier(arch="ann", hidden=(16,)))
    with pytest.raises(ExportError, match=r"gives NaN probabilities.*train again with a lower --lr"):
        export(model, tmp_path / "out" / "m.onnx", test_images)
    assert not (tmp_path / "out").exists()


def test_an_export_that_gives_nan_fails_the_parity_check(tmp_path, test_images):
    nan_onnx = tmp_path / "nan.onnx"
    export_module._write_onnx(_nan_weights(Classifier(arch="ann", hidden=(16,))), nan_onnx, None)
    model = Classifier(arch="ann", hidden=(16,)).eval()
    with torch.no_grad():
        model.net.layers[-1].bias[0] = 1e3  # class 0 always, as NaN's argmax: only the NaN can fail it
    with pytest.raises(ExportError, match=r"does not match its checkpoint at batch 1 .*\|Δprobability\| nan"):
        export_module.verify_parity(model, nan_onnx, test_images)


def test_too_few_images_for_the_parity_check_is_an_error(tmp_path, test_images):
    with pytest.raises(ExportError, match=r"at batch 256 \(100 images\)"):
        export(Classifier(arch="ann", hidden=(16,)), tmp_path / "m.onnx", test_images[:100])


def test_not_a_pixelsense_checkpoint(tmp_path):
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 0.1}}, other)
    with pytest.raises(CheckpointError, match="is not a pixelsense checkpoint"):
        load_checkpoint(other)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        load_checkpoint(junk)


@pytest.mark.parametrize(
    ("arch", "channels", "hidden"),
    [("ann", (), (512, 256)), ("ann", (), ()), ("cnn", (32, 64), (128,)), ("cnn", (3, 5, 7, 9), (11, 13))],
)
def test_the_size_limit_counts_the_parameters_of_the_real_network(arch, channels, hidden):
    from pixelsense.train.checks import parameter_count

    net = Classifier(arch=arch, channels=channels, hidden=hidden, permute_pixels=3).net
    assert parameter_count(arch, channels, hidden) == sum(p.numel() for p in net.parameters())


def test_fit_exports_and_the_export_cli_reexports_a_checkpoint(tmp_path, fake_data, capsys):
    args = ["--model", "cnn", "--epochs", "1", "--batch-size", "128", "--data-dir", str(fake_data),
            "--no-download", "--accelerator", "cpu", "--checkpoint-dir", str(tmp_path / "ck"),
            "--logdir", str(tmp_path / "runs")]  # fmt: skip
    assert fit_main(args) == 0
    metrics = json.loads((tmp_path / "ck" / "metrics.json").read_text())
    fitted = tmp_path / "ck" / "model.onnx"
    assert "model.onnx; verified" in capsys.readouterr().out

    out = tmp_path / "again.onnx"
    best = metrics["best_checkpoint"]
    code = export_main(["--ckpt", best, "--out", str(out), "--data-dir", str(fake_data)])
    assert code == 0 and "verified" in capsys.readouterr().out
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False)
    data.setup("test")
    for path in (fitted, out):
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert meta["architecture"] == "cnn" and meta["test_accuracy"] == f"{metrics['test_accuracy']:.4f}"
        (probs,) = session(path).run(["probabilities"], {"images": data.test_set.images[:, None].numpy()})
        accuracy = (probs.argmax(1) == data.test_set.labels.numpy()).mean()  # the best checkpoint's weights
        assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)

    assert fit_main([*args, "--no-export", "--checkpoint-dir", str(tmp_path / "ck2")]) == 0
    assert not (tmp_path / "ck2" / "model.onnx").exists()


def test_export_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.ckpt").write_bytes(b"junk")
    code = export_main(["--ckpt", str(tmp_path / "bad.ckpt"), "--out", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "bad.ckpt cannot be read as a checkpoint" in err
    assert not (tmp_path / "m.onnx").exists()


def test_benchmark_measures_both_engines_on_the_same_network():
    from pixelsense.bench.inference import BATCH_SIZES, compare, table

    results = compare(None, threads=1, rounds=1)
    assert [r["batch"] for r in results] == list(BATCH_SIZES)
    for r in results:
        assert r["torch"] > 0 and r["onnxruntime"] > 0
        assert r["speedup"] == pytest.approx(r["onnxruntime"] / r["torch"])
    assert table(results).count("\n") == len(BATCH_SIZES)
