"""What predict.py writes, and where: CSV fields that survive any file name, links written through, and
stdout and stderr that are full or closed."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsense.cli import predict_main

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "checkpoints" / "ann.onnx"  # a shipped export: nothing to train


def picture(path: Path | bytes) -> None:
    with open(path, "wb") as f:  # a bytes path too: a name that is not UTF-8
        Image.fromarray(np.full((28, 28), 200, np.uint8)).save(f, format="PNG")


def sources(table: Path) -> list[str]:
    with open(table, newline="", errors="surrogateescape") as f:
        return [row["source"] for row in csv.DictReader(f)]


def test_any_file_name_is_one_csv_field_and_keeps_its_bytes(tmp_path):
    names = ["cr\rname.png", "new\nline.png", "com,ma.png", 'quo"te.png', "plain.png"]
    for name in names:
        picture(tmp_path / name)
    picture(
        os.fsencode(tmp_path) + b"/not-utf8-\xff.png"
    )  # a name that is not UTF-8: its bytes, as ls prints
    out = tmp_path / "out" / "rows.csv"
    assert predict_main(["--model", str(MODEL), str(tmp_path), "--output", str(out), "--workers", "1"]) == 0
    found = sorted(os.path.basename(s) for s in sources(out))
    assert found == sorted([*names, os.fsdecode(b"not-utf8-\xff.png")])
    assert b"/not-utf8-\xff.png," in out.read_bytes()


def test_an_output_that_is_a_link_is_written_through(tmp_path):
    picture(tmp_path / "a.png")
    (tmp_path / "kept.csv").write_text("an earlier table\n")
    (tmp_path / "link.csv").symlink_to("kept.csv")
    (tmp_path / "dangling.csv").symlink_to("made.csv")
    for link in ("link.csv", "dangling.csv"):
        assert (
            predict_main(["--model", str(MODEL), str(tmp_path / "a.png"), "--output", str(tmp_path / link)])
            == 0
        )
        assert (tmp_path / link).is_symlink()  # the link stays, pointing where it did
    assert [os.path.basename(s) for s in sources(tmp_path / "kept.csv")] == ["a.png"]
    assert [os.path.basename(s) for s in sources(tmp_path / "made.csv")] == ["a.png"]


def run(shell: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = (
        f"'{sys.executable}' '{ROOT / 'scripts' / 'predict.py'}' --model '{MODEL}' '{tmp_path / 'a.npy'}'"
    )
    np.save(tmp_path / "a.npy", np.zeros((3, 28, 28), np.uint8))
    return subprocess.run(["bash", "-c", script + shell], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_behind_stdout_names_stdout(tmp_path):
    done = run(" > /dev/full", tmp_path)
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip()
        == "predict.py: error: stdout: the disk is full; free some space or pick another --output FILE."
    )


def test_a_closed_stderr_leaves_stdout_to_the_rows(tmp_path):
    done = run(" 2>&-", tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].startswith("source,") and len(done.stdout.splitlines()) == 4
