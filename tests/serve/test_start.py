"""Starting and stopping the server as a user does: a bad model or a port in use is one line and exit 2
before anything serves; SIGTERM lets a request in flight finish; an upload is never written to disk."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import httpx
import numpy as np
from PIL import Image
from serving import ROOT, Server


def serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "serve.py"), *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})  # fmt: skip


def test_a_bad_model_or_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.onnx").write_text("not a model")
    done = serve("--models", str(tmp_path / "notes.onnx"), "--port", "0")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        f"serve.py: error: {tmp_path / 'notes.onnx'} cannot be loaded as an ONNX model"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve("--port", str(port))
    assert (
        done.returncode == 2
        and done.stderr
        == f"serve.py: error: port {port} on 127.0.0.1 is in use; pass another --port (0 picks a free one).\n"
    )
    assert serve("--workers", "99").returncode == 2 and serve("--port", "70000").returncode == 2


def test_an_upload_is_never_written_to_disk(monkeypatch):
    """Starlette spools an upload over 1 MB to a temporary file (unnamed: no folder shows it); the server's
    never rolls over."""
    from pixelsense.serve.app import create_app
    from pixelsense.serve.models import open_models

    rolled = []
    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", lambda self: rolled.append(self))
    noisy = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1500, 1500), dtype=np.uint8)).save(
        noisy, "PNG"
    )
    assert len(noisy.getvalue()) > 2 << 20
    app = create_app(open_models([str(ROOT / "checkpoints" / "cnn.onnx")]), 1)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://pixelsense"
        ) as client:
            return await client.post("/api/v1/predict", files=[("files", ("noise.png", noisy.getvalue()))])

    answer = asyncio.run(post())
    assert answer.status_code == 200 and rolled == []


def test_sigterm_lets_the_requests_in_flight_finish(tmp_path):
    """A request of 16 photos, 12 of 36 megapixels (seconds of decoding, from little data), is being worked
    on when SIGTERM comes: it is answered in full, then the server exits 130 with one line."""
    server = Server("--workers", "1")
    large = io.BytesIO()  # 36 megapixels from 55 KB
    Image.fromarray(np.tile(np.arange(6000, dtype=np.uint8), (6000, 1))).save(large, "PNG")
    files = [("files", (f"{i}.png", large.getvalue())) for i in range(16)]
    request = httpx.Request("POST", server.url + "api/v1/predict", files=files)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    host, port = request.url.host, request.url.port
    with socket.create_connection((host, port)) as client:
        client.sendall(f"POST /api/v1/predict HTTP/1.1\r\n{head}\r\n".encode() + request.read())
        threading.Event().wait(0.5)  # every byte is sent: the server is decoding the photos
        code, err = server.stop(signal.SIGTERM)
        client.settimeout(60)
        answer = b""
        while more := client.recv(1 << 16):
            answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(json.loads(body)["results"]) == 16, head
    assert (
        code == 130 and err.strip() == "serve.py: stopped by SIGTERM; the requests in flight were answered."
    )
