"""Finding, verifying and placing the IDX files; every bad-file case gives one clear error."""

from __future__ import annotations

import gzip

import pytest
from torchvision.datasets import FashionMNIST

from pixelsense import sources
from pixelsense.sources import DataError, ensure_fashion_mnist, raw_dir

NAMES = list(sources.SHA256)


def test_raw_files_in_place_are_used(fake_data):
    assert ensure_fashion_mnist(fake_data, download=False) == raw_dir(fake_data)


def test_gz_in_data_dir_is_decompressed_into_torchvision_layout(tmp_path, fake_gz_dir, fake_digests):
    raw = ensure_fashion_mnist(fake_gz_dir, download=False)
    assert raw == fake_gz_dir / "FashionMNIST" / "raw"
    for name, content in fake_digests.items():
        assert (raw / name).read_bytes() == content
    assert not list(raw.glob("*.part"))
    assert len(FashionMNIST(str(fake_gz_dir), train=False).targets) == 300


def test_gz_from_system_folder(tmp_path, fake_gz_dir, monkeypatch):
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [tmp_path / "nowhere", fake_gz_dir])
    raw = ensure_fashion_mnist(tmp_path / "empty", download=False)
    assert sorted(p.name for p in raw.iterdir()) == sorted(NAMES)


def test_truncated_gz_names_the_file(tmp_path, fake_gz_dir):
    bad = fake_gz_dir / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte\.gz cannot be decompressed.*truncated"
    ) as err:
        ensure_fashion_mnist(fake_gz_dir, download=False)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert not (raw_dir(fake_gz_dir) / "train-images-idx3-ubyte").exists()
    assert not list(raw_dir(fake_gz_dir).glob(".*part"))


def test_gz_with_other_content_is_rejected_before_it_lands(fake_gz_dir):
    (fake_gz_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not fashion"))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is not the Fashion-MNIST file"):
        ensure_fashion_mnist(fake_gz_dir, download=False)
    assert not (raw_dir(fake_gz_dir) / "t10k-labels-idx1-ubyte").exists()


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_damaged_raw_file_is_named(fake_data, damage):
    path = raw_dir(fake_data) / "t10k-images-idx3-ubyte"
    content = path.read_bytes()
    path.write_bytes(content[:-100] if damage == "truncate" else content[:-1] + b"\x01")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is not the Fashion-MNIST file.*delete it"):
        ensure_fashion_mnist(fake_data, download=False)


def test_missing_file_without_download(fake_data):
    (raw_dir(fake_data) / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is missing.*apt-get install"):
        ensure_fashion_mnist(fake_data, download=False)


def test_failed_download_is_one_clear_error(tmp_path, fake_digests, monkeypatch):
    # A closed local port stands in for an unreachable mirror: the real download code runs, offline.
    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataError, match=r"download failed.*apt-get install dataset-fashion-mnist"):
        ensure_fashion_mnist(tmp_path / "data", download=True)
