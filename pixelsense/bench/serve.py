"""``bench.py serve``: pixelsense-serve against the textbook endpoint (``bench/naive.py``: a synchronous
FastAPI route, Pillow, one model, one ``session.run`` a request), both started on free loopback ports and
driven alternately with the same one-photo requests (product-style JPEG photos and 28×28 PNGs of test items)
at each concurrency. A raw asyncio client on kept-alive connections, so the client costs little of the cores
the servers share. ``serve_vs_naive`` = pixelsense's requests a second (answering every model) over the
naive endpoint's (answering one), at the highest concurrency."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pixelsense.errors import PixelsenseError
from pixelsense.study.photosets import STYLES, encode, photo, test_items

LEVELS = (1, 8, 32)  # concurrent connections
DISTINCT = 200  # different requests, sent in turn
BOUNDARY = b"pixelsense-bench"


def measure(models: list[str], data_dir: str, download: bool, requests: int, rounds: int) -> dict:
    """Per side and concurrency: req/s (median round), p50 and p99 latency (ms, over every request), errors;
    and pixelsense's resident memory (all its processes) once warm, and after every request."""
    from pixelsense.serve.models import open_models

    open_models(models)  # as the server opens them: a model it would refuse is one line here, now
    images, _ = test_items(data_dir, download)
    photos = _photos(images)
    serve = "import sys; from pixelsense.cli import serve_main; sys.exit(serve_main())"  # pixelsense-serve
    sides = {"pixelsense": _start([sys.executable, "-c", serve, "--port", "0", "--models", *models])}
    try:
        sides["naive"] = _start([sys.executable, "-m", "pixelsense.bench.naive", models[-1]])
        payloads = {side: [_request(path, field, name, body) for name, body in photos]
                    for side, (path, field) in (("pixelsense", ("/api/v1/predict", "files")),
                                                ("naive", ("/predict", "file")))}  # fmt: skip
        for side, (_, port) in sides.items():  # every worker started and warm: then the memory is counted
            asyncio.run(_drive(port, payloads[side], LEVELS[-1], 10 * LEVELS[-1]))
        memory, rows = [_rss(sides["pixelsense"][0])], []
        for level in LEVELS:
            seen: dict[str, dict] = {side: {"rates": [], "latencies": [], "errors": 0} for side in sides}
            for round_ in range(rounds + 1):  # the first a warm-up
                for side, (_, port) in sides.items():
                    count = requests // rounds if round_ else min(requests // rounds, 50 * level)
                    latencies, errors, seconds = asyncio.run(_drive(port, payloads[side], level, count))
                    if round_:
                        seen[side]["rates"].append(count / seconds)
                        seen[side]["latencies"] += latencies
                        seen[side]["errors"] += errors
            for side, s in seen.items():
                ms = sorted(1000 * x for x in s["latencies"])
                rows.append({"side": side, "concurrency": level, "rate": statistics.median(s["rates"]),
                             "p50": ms[len(ms) // 2], "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
                             "errors": s["errors"]})  # fmt: skip
        memory.append(_rss(sides["pixelsense"][0]))
    finally:
        for process, _ in sides.values():
            process.terminate()
            process.wait(30)
    top = {row["side"]: row["rate"] for row in rows if row["concurrency"] == LEVELS[-1]}
    served = sum(requests // rounds * rounds for _ in LEVELS)
    return {"rows": rows, "memory_mb": memory, "ratio": top["pixelsense"] / top["naive"], "served": served}


def _photos(images: np.ndarray) -> list[tuple[str, bytes]]:
    """Half product photos (dark garment on light, JPEG, 96 to 320 pixels), half the items as 28×28 PNGs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(DISTINCT):
        item = images[i]
        if i % 2:
            style = STYLES["product-jpeg"]
            out.append((f"{i}.jpg", encode(photo(item, style, rng), style, rng)))
        else:
            png = io.BytesIO()
            Image.fromarray(item).save(png, format="PNG")
            out.append((f"{i}.png", png.getvalue()))
    return out


def _request(path: str, field: str, name: str, data: bytes) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{field}"; filename="{name}"'.encode()
    part = b"\r\n".join([b"--" + BOUNDARY, disposition, b"Content-Type: application/octet-stream", b"", data,
                          b"--" + BOUNDARY + b"--", b""])  # fmt: skip
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary="
            f"{BOUNDARY.decode()}\r\nContent-Length: {len(part)}\r\n\r\n")  # fmt: skip
    return head.encode() + part


async def _drive(
    port: int, payloads: list[bytes], concurrency: int, count: int
) -> tuple[list[float], int, float]:
    """``count`` requests over ``concurrency`` kept-alive connections: (latencies, errors, wall seconds)."""
    taken, latencies, errors = iter(range(count)), [], 0

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # A request is several segments: without this, Nagle holds the last one for the server's delayed ACK.
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in taken:
            start = time.perf_counter()
            writer.write(payloads[i % len(payloads)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))  # fmt: skip
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def _start(command: list[str]) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not found:
        process.kill()
        said = f": {line.strip()}" if line.strip() else " (its one line is above)"
        raise PixelsenseError(f"the server to measure did not start{said}.")
    return process, int(found.group(1))


def _rss(process: subprocess.Popen) -> float:
    """Resident memory in MB of a server: its process and every process it started (its workers)."""
    pids, total = [process.pid], 0
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:  # gone meanwhile
            continue
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
        pids += [int(child) for child in children]
    return total / 1024


def table(result: dict) -> str:
    lines = [f"{'server':<12} {'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for row in result["rows"]:
        lines.append(f"{row['side']:<12} {row['concurrency']:>11} {row['rate']:>8.0f} {row['p50']:>8.1f} "
                     f"{row['p99']:>8.1f} {row['errors']:>7}")  # fmt: skip
    before, after = result["memory_mb"]
    lines.append(
        f"pixelsense-serve memory, all processes: {before:.0f} MB once warm, {after:.0f} MB after "
        f"{result['served']:,} requests"
    )
    return "\n".join(lines)
