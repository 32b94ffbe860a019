"""Messages that name the right thing: which option a write error was under, what a stop leaves."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from pixelsense.cli.inference import _left_by_photos
from pixelsense.files import cannot_write, destination, forget_destinations


def test_a_write_error_names_the_option_whose_folder_it_was_in(tmp_path):
    forget_destinations()
    destination("--checkpoint-dir", tmp_path / "ck")
    destination("--logdir", tmp_path / "runs")
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "runs/ann/version_0/events"))
    assert cannot_write(full).endswith("the disk is full; free some space or pick another --logdir.")
    denied = OSError(errno.EACCES, "Permission denied", str(tmp_path / "ck/last.ckpt"))
    assert (
        cannot_write(denied) == f"{tmp_path}/ck/last.ckpt: Permission denied; pick another --checkpoint-dir."
    )
    scratch = OSError(errno.ENOSPC, "No space left on device", str(Path(tempfile.gettempdir()) / "x/1.jpg"))
    assert cannot_write(scratch).endswith("free some space or pick another temporary folder (set TMPDIR).")
    forget_destinations()
    assert cannot_write(OSError(errno.ENOSPC, "No space left on device")) == (
        "writing: the disk is full; free some space or write elsewhere."
    )


def test_a_stopped_photos_run_says_what_its_out_folder_keeps(tmp_path):
    assert _left_by_photos(None) == "nothing was written"
    assert _left_by_photos(tmp_path / "new") == "nothing was written"
    for name in ("dataset-28/00000.png", "dataset-28/labels.csv", "product-jpeg/00000.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert _left_by_photos(tmp_path) == f"--out {tmp_path} keeps the 3 files of the sets made so far"


def test_a_predict_run_stopped_just_after_its_output_landed_says_so(tmp_path):
    # It said "--output was not written" while the new, whole file was already in place.
    from pixelsense.cli.inference import _left_by_predict
    from pixelsense.files import identity, write_text_atomic

    out = tmp_path / "out.csv"
    out.write_text("old\n")
    before = identity(out)
    assert _left_by_predict(str(out), before) == f"--output {out} was not written"
    write_text_atomic(out, "new\n")
    assert _left_by_predict(str(out), before) == f"--output {out} was written whole just before"
    assert _left_by_predict(None, None) == "stdout has the rows done so far"
