"""Ctrl-C and SIGTERM: one line, exit 130, and what was being written is gone (every command's wrapper)."""

from __future__ import annotations

import os
import signal

import pytest

from pixelsense.cli.command import command
from pixelsense.files import atomic_files, atomic_path
from pixelsense.signals import STOPPED, if_stopped, stoppable


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_write_is_one_line_exit_130_and_leaves_nothing(tmp_path, capsys, signum):
    target = tmp_path / "out.csv"
    target.write_text("the user's old file")

    def main() -> int:
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            os.kill(os.getpid(), signum)
            tmp.write_text("never reached")
        return 0

    before = signal.getsignal(signal.SIGTERM)
    assert stoppable("predict.py", main) == STOPPED
    err = capsys.readouterr().err.strip()
    assert err == f"predict.py: stopped by {signal.Signals(signum).name}; nothing was half-written."
    assert target.read_text() == "the user's old file" and os.listdir(tmp_path) == ["out.csv"]
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back


def test_a_stopped_results_folder_keeps_its_old_files(tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("old")

    @command("evaluate.py")
    def main(argv) -> int:
        with atomic_files(out) as tmp:
            (tmp / "report.md").write_text("new")
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    assert main([]) == STOPPED
    assert (out / "report.md").read_text() == "old" and sorted(os.listdir(tmp_path)) == ["report"]
    assert capsys.readouterr().err.strip() == "evaluate.py: stopped by SIGTERM; nothing was half-written."


def test_what_is_left_is_said_when_the_signal_comes(capsys):
    state = {"epochs": 0}

    def main() -> int:
        if_stopped(lambda: f"{state['epochs']} epochs kept")  # worked out when the signal comes
        state["epochs"] = 3
        os.kill(os.getpid(), signal.SIGINT)
        return 0

    assert stoppable("fit.py", main) == STOPPED
    assert capsys.readouterr().err.strip() == "fit.py: stopped by SIGINT; 3 epochs kept."


def test_a_signal_that_a_library_turns_into_its_own_error_is_still_a_stop(capsys):
    def main() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # lands while a C extension imports, say
        except BaseException:
            raise ImportError("initialization failed") from None
        return 0

    assert stoppable("predict.py", main) == STOPPED
    assert capsys.readouterr().err.strip() == "predict.py: stopped by SIGTERM; nothing was half-written."
