"""Rows of tests/test_bad_inputs.py: messages that name the right thing. Every command checks its output
folders with one function (``files.output_folder``) before any work, and a write error names the option
whose destination it was in (``files.destination``), not another the command happens to have."""

from __future__ import annotations

from pathlib import Path

from badinput import Bad, full_disk, one_line, unmount

DATA = ("--data-dir", "{data}", "--no-download")
FIT = (*DATA, "--accelerator", "cpu", "--model", "ann", "--hidden", "16", "--checkpoint-dir", "{tmp}/ck")
UNDER = r"cannot be made: \S*/f is a file, not a folder; pick another "


def _file(tmp: Path) -> None:
    (tmp / "f").write_text("not a folder")


def _no_json_named(tmp: Path, err: str) -> None:
    assert "--json" not in err, err


ROWS = [
    # One check of an output folder, before any work (compare.py said "Not a directory" after its runs).
    Bad(
        "compare-output-dir-under-a-file",
        "compare",
        ("--seeds", "1", "--output-dir", "{tmp}/f/out", *DATA),
        2,
        r"--output-dir \S*/f/out " + UNDER + r"--output-dir\.$",
        _file,
        then=one_line,
    ),
    Bad(
        "explain-output-dir-under-a-file",
        "explain",
        ("--quick", "--seeds", "1", "--output-dir", "{tmp}/f/why", *DATA),
        2,
        r"--output-dir \S*/f/why " + UNDER + r"--output-dir\.$",
        _file,
        then=one_line,
    ),
    Bad(
        "photos-out-under-a-file",
        "photos",
        ("--models", "{model}", "--out", "{tmp}/f/sets", *DATA),
        2,
        r"--out \S*/f/sets " + UNDER + r"--out\.$",
        _file,
        then=one_line,
    ),
    Bad(
        "photos-out-is-a-file",
        "photos",
        ("--models", "{model}", "--out", "{tmp}/f", *DATA),
        2,
        r"--out \S*/f is a file, not a folder; pick another --out\.$",
        _file,
        then=one_line,
    ),
    Bad(
        "photos-json-under-a-file",
        "photos",
        ("--models", "{model}", "--json", "{tmp}/f/r.json", *DATA),
        2,
        r"--json \S*/f/r\.json cannot be written: \S*/f is a file, not a folder; pick another --json\.$",
        _file,
    ),
    # A write error names the option it was under (photos.py said "pick another --json" with no --json).
    Bad(
        "photos-out-on-a-full-disk",
        "photos",
        ("--models", "{model}", "--count", "3", "--out", "{tmp}/full/sets", *DATA),
        2,
        r"full/sets\S*: the disk is full; free some space or pick another --out\.$",
        full_disk("full", "16k"),
        teardown=unmount("full"),
        then=_no_json_named,
    ),
    # fit.py said "the --checkpoint-dir or --logdir", after TensorBoard's writer printed its traceback.
    Bad(
        "fit-logdir-on-a-full-disk",
        "fit",
        (*FIT, "--epochs", "1", "--no-export", "--logdir", "{tmp}/full/logs"),
        2,
        r"full/logs/ann/version_0: the disk is full; free some space or pick another --logdir\.$",
        full_disk("full", "8k"),
        teardown=unmount("full"),
        changes=("ck/*",),
    ),
]
