"""The models a server opens: a card beside a model is read only when it is a small regular file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pixelsense.cli import serve_main
from pixelsense.serve.models import open_models

SHIPPED = Path(__file__).parents[2] / "checkpoints/cnn.onnx"


def test_a_fifo_or_a_huge_file_where_the_card_goes_is_no_card_and_no_hang(tmp_path):
    # serve.py waited forever on a FIFO named a.json, and read /dev/zero until the OOM killer came.
    for name, make in [("a", lambda p: os.mkfifo(p)), ("b", lambda p: p.symlink_to("/dev/zero")),
                       ("c", lambda p: p.write_bytes(b" " * (2 << 20)))]:  # fmt: skip
        shutil.copy(SHIPPED, tmp_path / f"{name}.onnx")
        make(tmp_path / f"{name}.json")
    served = open_models([str(tmp_path / f"{name}.onnx") for name in "abc"])
    assert [model.card["parameters"] for model in served] == [None, None, None]


def test_an_empty_host_is_refused_not_every_interface(capsys):
    # The socket layer takes "" as 0.0.0.0: every interface, for a server without authentication.
    with pytest.raises(SystemExit) as exit:
        serve_main(["--host", ""])
    assert exit.value.code == 2 and "argument --host: is empty; name an address" in capsys.readouterr().err
