"""On a CUDA machine: the same command trains on the GPU in bf16-mixed, and batch work stays on it."""

from __future__ import annotations

import pytest
import torch

from pixelsense.cli import fit_main
from pixelsense.data import augment, normalize

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


def test_batch_transforms_run_on_the_device():
    pixels = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, device="cuda")
    x = normalize(pixels, flip=True, translate=2)
    assert x.device.type == "cuda" and x.shape == (64, 1, 28, 28)
    assert torch.equal(augment(x, flip=False, translate=0), x)
