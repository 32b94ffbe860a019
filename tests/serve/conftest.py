"""A real pixelsense-serve process on a free loopback port, shared by the serve tests, and a client for it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Server:
    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--port", "0", *args],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        first = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", first)
        if not found:
            self.process.kill()
            raise RuntimeError(f"serve.py did not start: {first}{self.process.stderr.read()}")
        self.url = found.group(0)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Stop it as a user would; (exit code, everything it printed on stderr)."""
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


@pytest.fixture(scope="package")
def server():
    import httpx

    running = Server()
    with httpx.Client(base_url=running.url, timeout=60) as client:
        running.client = client
        yield running
    code, err = running.stop()
    assert code == 130 and "Traceback" not in err, err  # every test's requests, bad ones included
