"""Every command against bad inputs and faults, one table row each: the exit code, one clear line, no
traceback, and nothing on disk damaged (tests/badinput.py says what each row must show).

The rows live by command family: tests/bad_inference.py (predict), tests/bad_setup.py (get_data, flags,
configs, export, evaluate, bench), tests/bad_training.py (fit, resume, checkpoints, compare, explain) and
tests/bad_models.py (models, in every command that runs one), tests/bad_formats.py (files whose names
are not what they are), tests/bad_messages.py (messages that name the right thing) and tests/bad_review.py
(what the hostile review of issue 25 found).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from bad_formats import ROWS as FORMATS
from bad_inference import ROWS as INFERENCE
from bad_messages import ROWS as MESSAGES
from bad_models import ROWS as MODELS
from bad_review import ROWS as REVIEW
from bad_setup import ROWS as SETUP
from bad_training import ROWS as TRAINING
from badinput import Bad, check, snapshot
from conftest import accept_fake_data
from PIL import Image

from pixelsense import cli

ROWS = [*INFERENCE, *FORMATS, *SETUP, *TRAINING, *MODELS, *MESSAGES, *REVIEW]
MAINS = {
    "fit": cli.fit_main, "get_data": cli.get_data_main, "export": cli.export_main,
    "evaluate": cli.evaluate_main, "compare": cli.compare_main, "explain": cli.explain_main,
    "bench": cli.bench_main, "predict": cli.predict_main, "photos": cli.photos_main,
}  # fmt: skip


def test_the_table_covers_every_command_with_enough_rows():
    assert len(ROWS) >= 60 and {row.command for row in ROWS} == set(MAINS)
    assert len({row.id for row in ROWS}) == len(ROWS), "row ids must be unique"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"({len(ROWS)} rows:" in readme  # the README says how many


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """Fake Fashion-MNIST, a one-epoch ANN run on it (checkpoint and ONNX export) and good images."""
    root = tmp_path_factory.mktemp("shared")
    with pytest.MonkeyPatch.context() as patch:
        files = accept_fake_data(patch)
        raw = root / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name, content in files.items():
            (raw / name).write_bytes(content)
        run = root / "run"
        code = cli.fit_main(["--model", "ann", "--hidden", "16", "--epochs", "1", "--data-dir", str(root / "data"),
                             "--no-download", "--accelerator", "cpu", "--checkpoint-dir", str(run),
                             "--logdir", str(root / "runs")])  # fmt: skip
        assert code == 0
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(images / f"good{i}.png")
    return {"data": root / "data", "ckpt": next(run.glob("best-*.ckpt")), "model": run / "model.onnx",
            "images": images}  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Bad, shared, tmp_path, monkeypatch, capsys):
    accept_fake_data(monkeypatch)
    # Each row works on its own copies: a command that damaged a shared file would fail this row only.
    for name in ("model", "ckpt"):
        shutil.copy(shared[name], tmp_path / shared[name].name)
    names = {"tmp": tmp_path, "data": shared["data"], "images": shared["images"],
             "model": tmp_path / shared["model"].name, "ckpt": tmp_path / shared["ckpt"].name}  # fmt: skip
    try:
        if row.setup is not None:
            row.setup(tmp_path)
        args = [arg.format(**{k: str(v) for k, v in names.items()}) for arg in row.args]
        before = snapshot(tmp_path, shared["data"], shared["images"])
        with warnings.catch_warnings(record=True) as caught:  # under the filters the command sets itself
            try:
                code = MAINS[row.command](args)
            except SystemExit as exit:  # argparse's own refusals
                code = exit.code
        shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
        err = shown + capsys.readouterr().err
        after = snapshot(tmp_path, shared["data"], shared["images"])
    finally:
        if row.teardown is not None:
            row.teardown(tmp_path)
    check(row, code, err, before, after, tmp_path)
