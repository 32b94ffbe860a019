"""The light install: ``pip install .`` gives the inference part only (numpy, Pillow, simplejpeg,
onnxruntime, tqdm; no torch), small, with console scripts that work: the shipped CNN classifies the real test set."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
MAX_MB = 400  # the size the issue allows a predict-only install


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_the_base_install_predicts_without_torch(tmp_path):
    env = tmp_path / "light"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "pixelsense", source / "pixelsense", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([python, "-m", "pip", "install", "-q", str(source)], check=True, capture_output=True)
    probe = "import importlib.util as u; print([m for m in ('torch', 'pytorch_lightning') if u.find_spec(m)])"
    has = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert has.stdout.strip() == "[]"
    # Every module of the torch-free half and the command lines import there (torch is not even installed).
    every = ("import pkgutil, pixelsense.cli, pixelsense.infer as infer; "
             "[__import__(f'pixelsense.infer.{m.name}') for m in pkgutil.iter_modules(infer.__path__)]")  # fmt: skip
    assert subprocess.run([python, "-c", every], capture_output=True, text=True, cwd=tmp_path).returncode == 0
    jpeg = "from pixelsense.infer import jpeg; print(jpeg.simplejpeg is not None)"  # JPEGs on the fast path
    assert (
        subprocess.run([python, "-c", jpeg], capture_output=True, text=True, cwd=tmp_path).stdout == "True\n"
    )
    assert size_mb(env) < MAX_MB
    done = subprocess.run(
        [env / "bin" / "pixelsense-predict", "--model", ROOT / "checkpoints" / "cnn.onnx",
         DEBIAN / "t10k-images-idx3-ubyte.gz", "--labels", DEBIAN / "t10k-labels-idx1-ubyte.gz",
         "--output", tmp_path / "out.csv"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accuracy: 0.9337 (10000 labelled images)")
    # The training commands are there too, and say what they need.
    fit = subprocess.run([env / "bin" / "pixelsense-fit", "--model", "ann"], capture_output=True, text=True)
    assert fit.returncode == 2 and "pip install 'pixelsense[train]'" in fit.stderr
    assert "Traceback" not in fit.stderr
    # Without the web stack, pixelsense-serve says what to install; with it (`.[serve]`), still no torch, it
    # serves the API and the page.
    serve = [
        env / "bin" / "pixelsense-serve",
        "--port",
        "0",
        "--workers",
        "1",
        "--models",
        ROOT / "checkpoints" / "cnn.onnx",
    ]
    refused = subprocess.run(serve, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "pip install 'pixelsense[serve]'" in refused.stderr
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{source}[serve]"], check=True, capture_output=True
    )
    assert (
        subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        == "[]"
    )
    server = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline()).group(0)
        with urllib.request.urlopen(url + "api/v1/health", timeout=30) as health:
            assert json.loads(health.read()) == {"status": "ok"}
        with urllib.request.urlopen(url, timeout=30) as page:
            assert b"pixelsense" in page.read()
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 130
