"""fit.py --permute-pixels: one fixed pixel order for every split, carried by the model into its checkpoint
and its ONNX export, so the export classifies ordinary images."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import pytorch_lightning as pl
import torch

from pixelsense.cli import fit_main
from pixelsense.train.checkpoints import load_checkpoint
from pixelsense.train.data import FashionMNISTDataModule, normalize
from pixelsense.train.module import Classifier
from pixelsense.train.nets import PixelPermutation, pixel_permutation


def test_every_split_sees_the_same_permutation_after_augmentation(fake_data):
    model = Classifier(arch="ann", hidden=(16,), permute_pixels=3)
    seen: list[tuple[str, torch.Tensor, torch.Tensor]] = []  # (stage, input, output) of the permutation

    def record(module, inputs, output):
        stage = "test" if trainer.testing else "train" if module.training else "val"
        seen.append((stage, inputs[0].detach().clone(), output.detach().clone()))

    model.net[0].register_forward_hook(record)
    data = FashionMNISTDataModule(data_dir=str(fake_data), batch_size=64, translate=2, download=False)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, limit_val_batches=2,
                         limit_test_batches=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=data)
    trainer.test(model, datamodule=data, verbose=False)
    assert {stage for stage, _, _ in seen} == {"train", "val", "test"}
    order = pixel_permutation(3)
    for _, before, after in seen:
        assert torch.equal(after.flatten(1), before.flatten(1)[:, order])
    # Evaluation images reach it as they are (normalised), training images after their augmentation: no
    # fake image has a black row or column, so one can only be a translation's fill.
    test_inputs = [before for stage, before, _ in seen if stage == "test"]
    assert torch.equal(test_inputs[0], normalize(data.test_set.images[: len(test_inputs[0])]))
    black = normalize(torch.zeros(1, 28, 28, dtype=torch.uint8))[0, 0, 0, 0]
    train_inputs = torch.cat([before for stage, before, _ in seen if stage == "train"])
    filled = (train_inputs[:, 0] == black).all(-1).any(-1) | (train_inputs[:, 0] == black).all(-2).any(-1)
    raw = data.train_set.images == 0
    assert filled.float().mean() > 0.5 and not (raw.all(-1).any() or raw.all(-2).any())


def test_fit_records_the_permutation_and_its_export_classifies_plain_images(tmp_path, fake_data):
    args = ["--model", "ann", "--epochs", "1", "--hidden", "32", "--no-flip", "--permute-pixels", "11",
            "--data-dir", str(fake_data), "--no-download", "--accelerator", "cpu", "--batch-size", "128",
            "--checkpoint-dir", str(tmp_path / "ck"), "--logdir", str(tmp_path / "runs")]  # fmt: skip
    assert fit_main(args) == 0
    metrics = json.loads((tmp_path / "ck" / "metrics.json").read_text())
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert metrics["permute_pixels"] == 11 and saved["permute_pixels"] == 11
    assert metrics["config"]["permute_pixels"] == 11

    model = load_checkpoint(metrics["best_checkpoint"])  # the checkpoint rebuilds the permutation
    assert isinstance(model.net[0], PixelPermutation) and torch.equal(
        model.net[0].order, pixel_permutation(11)
    )

    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False)
    data.setup("test")
    images, labels = data.test_set.images, data.test_set.labels
    onnx_path = tmp_path / "ck" / "model.onnx"
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["pixel_permutation_seed"] == "11"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"images": images[:, None].numpy()})
    accuracy = float((probabilities.argmax(1) == labels.numpy()).mean())
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    # The graph permutes: the inner network on permuted pixels gives the export's answer, and on plain
    # pixels it does not.
    x = normalize(images)
    with torch.no_grad():
        permuted = model.net[1](x.flatten(1)[:, pixel_permutation(11)].reshape(x.shape)).softmax(1).numpy()
        plain = model.net[1](x).softmax(1).numpy()
    assert np.abs(permuted - probabilities).max() < 1e-5
    assert np.abs(plain - probabilities).max() > 1e-2


def test_a_bad_permutation_seed_is_one_line(tmp_path, fake_data, capsys):
    code = fit_main(["--model", "ann", "--permute-pixels", "-1", "--fast-dev-run", "--data-dir", str(fake_data),
                     "--no-download", "--checkpoint-dir", str(tmp_path / "ck"), "--logdir", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--permute-pixels must be a seed from 0" in err
