"""On a CUDA machine: the same command trains on the GPU in bf16-mixed, and batch work stays on it."""

from __future__ import annotations

import pytest
import torch

from pixelsense.cli import fit_main
from pixelsense.train.data import FashionMNISTDataModule, augment, normalize

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("model", ["ann", "cnn"])
def test_auto_picks_the_gpu_and_bf16(tmp_path, fake_data, capsys, model):
    code = fit_main(
        ["--model", model, "--fast-dev-run", "--data-dir", str(fake_data), "--no-download",
         "--checkpoint-dir", str(tmp_path / "ck"), "--logdir", str(tmp_path / "runs")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "× cuda" in out
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    assert f"precision {expected}" in out
    assert "gpu recipe: " in out  # the device chose the recipe


def test_batches_travel_as_uint8_and_are_transformed_on_the_device(fake_data):
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False, batch_size=64)
    data.setup()
    images, labels = next(iter(data.train_dataloader())).batches[0]
    assert images.dtype == torch.uint8  # what crosses to the device is one byte a pixel

    class Loop:
        training = True

    data.trainer = Loop()
    x, _ = data.on_after_batch_transfer((images.cuda(), labels.cuda()), 0)
    assert x.device.type == "cuda" and x.dtype == torch.float32 and x.shape == (64, 1, 28, 28)
    cpu_plain = normalize(images)
    Loop.training = False
    plain, _ = data.on_after_batch_transfer((images.cuda(), labels.cuda()), 0)
    assert torch.allclose(plain.cpu(), cpu_plain) and not torch.allclose(x.cpu(), cpu_plain)
    assert torch.equal(augment(plain, flip=False, translate=0), plain)


def test_splits_live_on_the_gpu_and_batches_are_sliced_there(fake_data):
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False, batch_size=64)
    data.setup()
    loader = data.batches(data.train_set, shuffle=True, device=torch.device("cuda", 0))
    assert loader.split.images.is_cuda and data.train_set.images.device.type == "cpu"  # a copy, made once
    batch = next(iter(loader))
    assert all(t.is_cuda for t in batch)
    assert data.transfer_batch_to_device(batch, torch.device("cuda", 0), 0) is batch
    assert len(data.batches(data.val_set, shuffle=False, device=torch.device("cuda", 0))) == 1


@pytest.mark.parametrize("model", ["ann", "cnn"])
def test_full_batches_replay_as_cuda_graphs_and_train_as_eager_does(tmp_path, fake_data, monkeypatch, model):
    from pixelsense.train import graphs

    replays = []
    replay = graphs.GraphedStep.__call__
    monkeypatch.setattr(
        graphs.GraphedStep, "__call__", lambda self, x, y: replays.append(len(x)) or replay(self, x, y)
    )

    def weights(*extra: str) -> dict[str, torch.Tensor]:
        folder = tmp_path / "-".join([model, *extra])
        # No dropout, no augmentation, float32: nothing random, so graphs and eager must agree.
        code = fit_main(
            ["--model", model, "--epochs", "2", "--batch-size", "64", "--dropout", "0", "--no-flip",
             "--translate", "0", "--precision", "32-true", "--no-export", "--data-dir", str(fake_data),
             "--no-download", "--checkpoint-dir", str(folder), "--logdir", str(tmp_path / "runs"), *extra]
        )  # fmt: skip
        assert code == 0
        return torch.load(folder / "last.ckpt", weights_only=True)["state_dict"]

    graphed = weights()
    assert replays == [64] * 8  # 300 images: 4 full batches an epoch replayed, the last 44 run eager
    eager = weights("--no-cuda-graphs")
    assert len(replays) == 8
    for name, value in eager.items():
        torch.testing.assert_close(graphed[name], value, rtol=1e-3, atol=1e-4, msg=name)


def test_checkpoints_of_gpu_tensors_hold_the_values_they_had_when_saved(tmp_path):
    from pixelsense.train.checkpoint_io import CheckpointWriter, in_background

    writer, weights = CheckpointWriter(), torch.zeros(100_000, device="cuda")
    with in_background():  # as fit.py's checkpoint callback saves
        for step in range(20):
            writer.save_checkpoint({"state_dict": {"w": weights}, "step": step}, tmp_path / f"{step}.ckpt")
            weights += 1  # queued on the device right behind the snapshot, while the thread writes
    writer.teardown()
    for step in range(20):
        saved = torch.load(tmp_path / f"{step}.ckpt", map_location="cpu", weights_only=True)
        assert saved["step"] == step and saved["state_dict"]["w"].eq(step).all()
