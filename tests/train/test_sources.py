"""Finding, verifying and placing the IDX files; every bad-file case gives one clear error."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from torchvision.datasets import FashionMNIST

from pixelsense.train import sources
from pixelsense.train.sources import DataError, ensure_fashion_mnist, raw_dir

NAMES = list(sources.SHA256)
ROOT = Path(__file__).resolve().parents[2]
# Root reads and writes through any permission bits: these cases run get_data.py as "nobody".
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


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


@pytest.mark.parametrize(
    ("make", "says"), [(os.mkfifo, "is not a regular file (a FIFO"), (Path.mkdir, "is a folder, not a file")]
)
def test_something_else_in_place_of_an_idx_file_is_named_as_what_it_is(fake_data, make, says):
    path = raw_dir(fake_data) / "t10k-labels-idx1-ubyte"
    path.unlink()
    make(path)  # a FIFO is never opened: reading it would wait for a writer forever
    with pytest.raises(DataError, match=rf"t10k-labels-idx1-ubyte {re.escape(says)}.*, where that IDX file"):
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


@pytest.fixture
def shared_dir():
    """A folder that an unprivileged user may enter (pytest's own tmp_path is root's alone)."""
    if NOBODY and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to run as another user")
    folder = Path(tempfile.mkdtemp(prefix="pixelsense-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def get_data_unprivileged(data_dir: Path) -> tuple[int, str]:
    """get_data.py on ``data_dir`` as a user without write or read rights there; (exit code, stderr)."""
    script = ("import json, sys; from pixelsense import cli; from pixelsense.train import sources; sources.SYSTEM_DIRS = []; "
              "sources.SHA256 = json.loads(sys.argv[1]); "
              "sys.exit(cli.get_data_main(['--data-dir', sys.argv[2], '--no-download']))")  # fmt: skip
    args = [*NOBODY, sys.executable, "-c", script, json.dumps(sources.SHA256), str(data_dir)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)
    return done.returncode, done.stderr.strip()


def write_gz(folder: Path, files: dict[str, bytes], mode: int = 0o644) -> None:
    for name, content in files.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        (folder / f"{name}.gz").chmod(mode)


@pytest.mark.parametrize("made", ["nothing", "raw"])
def test_a_data_dir_that_cannot_be_written_is_named_and_the_gz_kept(shared_dir, fake_digests, made):
    write_gz(shared_dir, fake_digests)
    before = {p: p.read_bytes() for p in shared_dir.glob("*.gz")}
    if made == "raw":
        raw_dir(shared_dir).mkdir(parents=True, mode=0o755)
    code, err = get_data_unprivileged(shared_dir)
    blamed = shared_dir / "FashionMNIST" if made == "nothing" else raw_dir(shared_dir) / NAMES[0]
    assert code == 2 and err.count("\n") == 0 and "Traceback" not in err, err
    assert f"cannot write {blamed} (Permission denied); pass a --data-dir you can write to." in err
    assert "delete" not in err  # the .gz files are good: they were only being read
    assert {p: p.read_bytes() for p in shared_dir.glob("*.gz")} == before
    assert not list(shared_dir.rglob("*.part"))


@pytest.mark.parametrize("where", ["raw", "gz"])
def test_a_file_that_cannot_be_read_is_named_not_called_corrupt(shared_dir, fake_digests, where):
    if where == "gz":
        shared_dir.chmod(0o777)  # the folder can be written: only the reading fails
        write_gz(shared_dir, fake_digests, mode=0o600)
        blamed = shared_dir / f"{NAMES[0]}.gz"
    else:
        raw = raw_dir(shared_dir)
        raw.mkdir(parents=True)
        for name, content in fake_digests.items():
            (raw / name).write_bytes(content)
            (raw / name).chmod(0o600)
        blamed = raw / NAMES[0]
    for folder in (shared_dir / "FashionMNIST", raw_dir(shared_dir)):
        if folder.exists():
            folder.chmod(0o755)
    code, err = get_data_unprivileged(shared_dir)
    assert code == 2 and err.count("\n") == 0 and "Traceback" not in err, err
    assert f"cannot read {blamed} (Permission denied); check its permissions" in err
    assert "delete" not in err and "corrupt" not in err
