"""Shared fixtures: small fake Fashion-MNIST IDX files in a temp dir, accepted as the real thing."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsense.train import sources

N_TRAIN = 5300  # the DataModule holds out 5000 for validation, as with the real data
N_TEST = 300


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (magic 0x0000 08 ndim, big-endian dims, then the bytes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first two pixels encode their index (so each is recognisable) and whose
    brightness depends on the label (so a model can learn something)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    images[:, 8:20, 8:20] += (labels * 20).astype(np.uint8)[:, None, None]
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    return images, labels.astype(np.uint8)


def fake_files() -> dict[str, bytes]:
    train_x, train_y = fake_arrays(N_TRAIN, seed=1)
    test_x, test_y = fake_arrays(N_TEST, seed=2)
    return {
        "train-images-idx3-ubyte": idx_bytes(train_x),
        "train-labels-idx1-ubyte": idx_bytes(train_y),
        "t10k-images-idx3-ubyte": idx_bytes(test_x),
        "t10k-labels-idx1-ubyte": idx_bytes(test_y),
    }


def image_ids(images: torch.Tensor) -> list[int]:
    """Recover each fake image's index from its first two pixels."""
    flat = images.reshape(len(images), -1).long()
    return (flat[:, 0] * 256 + flat[:, 1]).tolist()


def accept_fake_data(patch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Make pixelsense accept the fake files (and only them); hide the system data folder."""
    files = fake_files()
    patch.setattr(sources, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    patch.setattr(sources, "SYSTEM_DIRS", [])
    return files


@pytest.fixture
def fake_digests(monkeypatch) -> dict[str, bytes]:
    return accept_fake_data(monkeypatch)


@pytest.fixture
def fake_gz_dir(tmp_path, fake_digests) -> Path:
    """A folder with the four fake files as .gz, like Debian's package installs them."""
    folder = tmp_path / "gz"
    folder.mkdir()
    for name, content in fake_digests.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))
    return folder


@pytest.fixture
def fake_data(tmp_path, fake_digests) -> Path:
    """A data dir with the four fake files already in torchvision's raw layout."""
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, content in fake_digests.items():
        (raw / name).write_bytes(content)
    return tmp_path / "data"


@pytest.fixture
def trained_now(monkeypatch) -> list:
    """fit() replaced by one that writes a finished run's files at once; the list fills with the
    configurations it was asked to train."""
    import json

    done = []

    def fake_fit(cfg, command=""):
        done.append(cfg)
        Path(cfg.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        best = Path(cfg.checkpoint_dir) / "best.ckpt"
        best.write_bytes(b"weights")
        metrics = {"best_checkpoint": str(best), "config": json.loads(cfg.to_json())}
        (Path(cfg.checkpoint_dir) / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr("pixelsense.train.run.fit", fake_fit)
    return done


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip cleanly on machines without CUDA (CI never has one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
