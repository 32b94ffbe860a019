"""The two ways to run every command: ``python scripts/X.py`` (a thin file: one call into pixelsense.cli) and
the ``pixelsense-X`` console script that ``pip install`` makes from pyproject.toml. Both reach the same main."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
# pixelsense-get-data = "pixelsense.cli:get_data_main"
CONSOLE = dict(
    re.findall(
        r'^(pixelsense-[\w-]+) = "pixelsense\.cli:(\w+)"$', (ROOT / "pyproject.toml").read_text(), re.M
    )
)
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
try:
    INSTALLED = bool(importlib.metadata.distribution("pixelsense"))
except importlib.metadata.PackageNotFoundError:
    INSTALLED = False


def called(script: Path) -> str:
    """The one pixelsense.cli function a script imports and calls."""
    tree = ast.parse(script.read_text())
    imported = [
        a.name
        for n in tree.body
        if isinstance(n, ast.ImportFrom) and n.module == "pixelsense.cli"
        for a in n.names
    ]
    assert len(imported) == 1, f"{script.name} should import one main from pixelsense.cli"
    return imported[0]


def test_every_script_is_thin_and_has_its_console_script():
    assert len(SCRIPTS) == len(CONSOLE) >= 9
    for script in SCRIPTS:
        assert len(script.read_text().splitlines()) <= 15, f"{script.name} should only call pixelsense.cli"
        assert CONSOLE[f"pixelsense-{script.stem.replace('_', '-')}"] == called(script)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_both_ways_run_the_same_command(script):
    console = Path(sys.executable).parent / f"pixelsense-{script.stem.replace('_', '-')}"
    ways = [[sys.executable, str(script)], [str(console)]]
    if not INSTALLED:  # run from a checkout (PYTHONPATH=.): there are no console scripts to run
        ways.pop()
    else:
        assert console.exists(), f"pixelsense is installed but {console.name} is not"
    helps = []
    for way in ways:
        done = subprocess.run([*way, "--help"], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr
        helps.append(frozenset(re.findall(r"--[\w-]+", done.stdout)))
        bad = subprocess.run(
            [*way, "--no-such-option"], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60
        )
        assert (
            bad.returncode == 2
            and len(bad.stderr.strip().splitlines()) == 1
            and "Traceback" not in bad.stderr
        )
    assert len(set(helps)) == 1 and "--help" in helps[0]  # the same options, whichever way it was started
