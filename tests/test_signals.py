"""Ctrl-C and SIGTERM: one line, exit 130, and what was being written is gone (every command's wrapper)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pixelsense.cli.command import command
from pixelsense.files import atomic_files, atomic_path
from pixelsense.signals import STOPPED, command_line, if_stopped, stoppable


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


def _as_command(
    tmp_path, body: str, name: str = "predict.py", stdout=subprocess.PIPE
) -> subprocess.CompletedProcess:
    """Run ``body`` as a pixelsense command line would run: a script named ``name`` that imports
    pixelsense.cli first."""
    script = tmp_path / name
    script.write_text("import os, signal, sys, atexit, threading, time\nimport pixelsense.cli\n" + body)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.run([sys.executable, str(script)], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=60)  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_before_the_command_runs_is_one_line_and_exit_130(tmp_path, signum):
    # What a Ctrl-C in the first 100 ms met: the imports before the command's own handling started.
    done = _as_command(
        tmp_path, f"os.kill(os.getpid(), {int(signum)})\ntime.sleep(30)\nprint('not stopped')\n"
    )
    assert (done.returncode, done.stdout) == (STOPPED, "")
    assert done.stderr.strip() == f"predict.py: stopped by {signal.Signals(signum).name}; nothing was done."


@pytest.mark.parametrize("when", ["exit handler", "thread joined at exit"])
def test_a_signal_after_the_command_is_done_keeps_its_exit_code_and_says_nothing(tmp_path, when):
    # What a Ctrl-C just after export had written its file met: exit 130 with no line, or a traceback.
    late = (
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))"
        if when == "exit handler"
        else "threading.Thread(target=lambda: (time.sleep(0.5), os.kill(os.getpid(), signal.SIGINT))).start()"
    )
    body = (
        f"from pixelsense.cli.command import command\n@command('export.py')\ndef main(argv):\n"
        f"    {late}\n    print('written')\n    return 0\nsys.exit(main())\n"
    )
    done = _as_command(tmp_path, body, "export.py")
    assert (done.returncode, done.stdout, done.stderr) == (0, "written\n", "")


def test_only_a_pixelsense_command_line_takes_the_signals_at_import():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # pytest imported pixelsense.cli
    with pytest.MonkeyPatch.context() as patch:
        for argv0, name in [("scripts/get_data.py", "get_data.py"), ("/venv/bin/pixelsense-get-data", "get_data.py"),
                            ("pixelsense-predict", "predict.py"), ("pytest", None), ("other.py", None),
                            ("", None)]:  # fmt: skip
            patch.setattr(sys, "argv", [argv0])
            assert command_line() == name, argv0


def test_a_signal_while_deferred_is_taken_after_the_block(capsys):
    # A Ctrl-C inside os.fork's after-fork hooks was printed as "Exception ignored" and lost.
    from pixelsense.signals import deferred

    order = []

    def main() -> int:
        with deferred():
            os.kill(os.getpid(), signal.SIGINT)
            order.append("inside, not stopped")
        order.append("never")
        return 0

    assert stoppable("predict.py", main) == STOPPED
    assert order == ["inside, not stopped"]
    assert capsys.readouterr().err.strip() == "predict.py: stopped by SIGINT; nothing was half-written."


@pytest.mark.parametrize("writes", ["a line", "a report file, then a line"])
def test_a_write_error_on_stdout_says_stdout_in_one_line(tmp_path, writes):
    # bench.py > /dev/full was a traceback; export.py's named its --out, which it had written whole.
    report = "    from pixelsense.files import output\n    with output(sys.argv[0] + '.txt') as f:\n" \
             "        f.write('whole'); print('x' * 100000)\n"  # fmt: skip
    body = (f"from pixelsense.cli.command import command\n@command('export.py', writes='--out')\n"
            f"def main(argv):\n{report if 'file' in writes else ''}    print('done')\n    return 0\n"
            "sys.exit(main())\n")  # fmt: skip
    with open("/dev/full", "w") as full:
        done = _as_command(tmp_path, body, "export.py", stdout=full)
    assert (done.returncode, done.stderr) == (2, "export.py: error: stdout: the disk is full; free some space "
                                                 "or send stdout to another disk.\n")  # fmt: skip


def test_a_stop_that_python_ignores_is_delivered_again_where_it_stops_the_command(capsys):
    # A SIGINT landing in a weakref callback was "Exception ignored", and the command ran on to exit 0.
    import gc
    import time
    import weakref

    class Thing:
        pass

    def main() -> int:
        thing = Thing()
        weakref.finalize(thing, os.kill, os.getpid(), signal.SIGINT)  # the handler runs inside the callback
        del thing
        gc.collect()
        for _ in range(200):  # the command goes on: the stop must still come
            time.sleep(0.01)
        return 0

    assert stoppable("evaluate.py", main) == STOPPED
    err = capsys.readouterr().err
    assert (
        err.strip().endswith("evaluate.py: stopped by SIGINT; nothing was half-written.")
        and "Traceback" not in err
    )
