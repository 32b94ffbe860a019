"""Checkpoints outlive the code's layout: a run written by pixelsense before its modules moved into folders
(``tests/fixtures/ann-epoch0-of-2``: an ANN killed after epoch 0 of 2, on the fake data of conftest) loads,
exports and resumes with today's code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnxruntime as ort
import torch

from pixelsense.cli import fit_main
from pixelsense.infer.arrays import read_idx
from pixelsense.train.checkpoints import load_checkpoint
from pixelsense.train.export import export

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ann-epoch0-of-2"
BEST = "best-epoch00-acc0.1616.ckpt"
# The settings the fixture was trained with (fit.py refuses a resume with others).
SETTINGS = ["--model", "ann", "--hidden", "8", "--batch-size", "64", "--accelerator", "cpu", "--no-download"]


def test_a_checkpoint_from_before_the_move_loads_and_exports(tmp_path, fake_data):
    model = load_checkpoint(FIXTURE / BEST)
    assert model.hparams.arch == "ann" and tuple(model.hparams.hidden) == (8,)
    saved = torch.load(FIXTURE / BEST, map_location="cpu", weights_only=True)["state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    images = torch.from_numpy(read_idx(fake_data / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").copy())
    export(model, tmp_path / "m.onnx", images)
    session = ort.InferenceSession(tmp_path / "m.onnx", providers=["CPUExecutionProvider"])
    probabilities = session.run(["probabilities"], {"images": images[:5, None].numpy()})[0]
    assert probabilities.shape == (5, 10)


def test_a_run_stopped_before_the_move_resumes_after_it(tmp_path, fake_data, capsys):
    ck = tmp_path / "ck"
    shutil.copytree(FIXTURE, ck)
    args = [
        *SETTINGS,
        "--data-dir",
        str(fake_data),
        "--checkpoint-dir",
        str(ck),
        "--logdir",
        str(tmp_path / "runs"),
    ]
    assert fit_main([*args, "--epochs", "2", "--resume"]) == 0
    assert f"resuming from {ck / 'last.ckpt'}" in capsys.readouterr().out
    metrics = json.loads((ck / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["config"]["hidden"] == [8]
    last = torch.load(ck / "last.ckpt", map_location="cpu", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 10)  # epoch 1 on top of the fixture's 5 steps
    assert (ck / "model.onnx").is_file()
