"""A real pixelsense-serve process on a free loopback port, with a client, for the serve tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

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


def running(*args: str):
    """A server for a test module; when the module is done, Ctrl-C stops it: exit 130, no traceback."""
    import httpx

    server = Server(*args)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        server.client = client
        yield server
    code, err = server.stop()
    assert code == 130 and "Traceback" not in err, err  # after every request of the module, bad ones too
