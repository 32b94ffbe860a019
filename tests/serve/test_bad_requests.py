"""Every bad request to a real server, one row each: its documented 4xx status, one line of JSON
``{"error": ...}`` that says what is wrong, and the server answers the next good request (and, when the module
is done, stops on Ctrl-C with no traceback in its log)."""

from __future__ import annotations

import io
import re
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image
from serving import running

from pixelsense.serve.app import MAX_BODY, MAX_FILES


@pytest.fixture(scope="module")
def server():
    yield from running("--workers", "1")  # one process here; test_api.py's server has one a core


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of 80 bytes whose header says ``width`` × ``height``: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


GOOD = png(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8))
JPEG = io.BytesIO()
Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 48), dtype=np.uint8)).save(JPEG, format="JPEG")
FLOAT_NAN = io.BytesIO()
Image.fromarray(np.full((8, 8), np.nan, np.float32), "F").save(FLOAT_NAN, format="TIFF")


@dataclass
class Bad:
    id: str
    method: str
    path: str
    status: int
    says: str  # a regex the error line must match
    kw: dict = field(default_factory=dict)  # what httpx sends


def files(*named: tuple[str, bytes], field_name: str = "files") -> dict:
    return {"files": [(field_name, item) for item in named]}


MULTIPART = {"content-type": "multipart/form-data; boundary=xx"}
# fmt: off
ROWS = [
    Bad("predict-not-an-image", "POST", "/api/v1/predict", 422, r"notes\.txt cannot be read as an image",
        files(("notes.txt", b"just some text\n"))),
    Bad("predict-zero-bytes", "POST", "/api/v1/predict", 422, r"empty\.png cannot be read as an image",
        files(("empty.png", b""))),
    Bad("predict-truncated-png", "POST", "/api/v1/predict", 422, r"cut\.png cannot be read",
        files(("cut.png", GOOD[:60]))),
    Bad("predict-truncated-jpeg", "POST", "/api/v1/predict", 422, r"cut\.jpg cannot be read",
        files(("cut.jpg", JPEG.getvalue()[:200]))),
    Bad("predict-decompression-bomb", "POST", "/api/v1/predict", 422,
        r"bomb\.png is too large to decode: 900,000,000", files(("bomb.png", png_declaring(30_000, 30_000)))),
    Bad("predict-bomb-over-pillows-limit", "POST", "/api/v1/predict", 422, r"too large to decode",
        files(("b.png", png_declaring(100_000, 100_000)))),
    Bad("predict-1x60000", "POST", "/api/v1/predict", 422, r"thin\.png is over 28 times as long as wide",
        files(("thin.png", png(np.full((60_000, 1), 200, np.uint8))))),
    Bad("predict-nan-pixels", "POST", "/api/v1/predict", 422, r"nan\.tif contains NaN",
        files(("nan.tif", FLOAT_NAN.getvalue()))),
    Bad("predict-every-file-bad", "POST", "/api/v1/predict", 422, r"a\.txt cannot be read .*\(and 2 more\)",
        files(("a.txt", b"x"), ("b.txt", b"y"), ("c.txt", b"z"))),
    Bad("predict-no-file-field", "POST", "/api/v1/predict", 422, r"^files: Field required", {"data": {"topk": "3"}}),
    Bad("predict-file-under-another-name", "POST", "/api/v1/predict", 422, r"^files: Field required",
        files(("a.png", GOOD), field_name="image")),
    Bad("predict-a-file-as-text", "POST", "/api/v1/predict", 422, r"^files", {"data": {"files": "not a file"}}),
    Bad("predict-too-many-files", "POST", "/api/v1/predict", 400,
        rf"Too many files\. Maximum number of files is {MAX_FILES}",
        files(*[(f"{i}.png", GOOD) for i in range(MAX_FILES + 1)])),
    Bad("predict-100-files", "POST", "/api/v1/predict", 400, r"Too many files",
        files(*[(f"{i}.png", GOOD) for i in range(100)])),
    Bad("predict-body-over-the-limit", "POST", "/api/v1/predict", 413, rf"over the {MAX_BODY:,} allowed",
        files(("big.png", b"\0" * (MAX_BODY + 1)))),
    Bad("predict-json-body", "POST", "/api/v1/predict", 422, r"^files: Field required",
        {"json": {"files": ["a.png"]}}),
    Bad("predict-malformed-json", "POST", "/api/v1/predict", 422, r"^files: Field required",
        {"content": b'{"files": [', "headers": {"content-type": "application/json"}}),
    Bad("predict-malformed-multipart", "POST", "/api/v1/predict", 400, r"^Invalid multipart data",
        {"content": b"--xx\r\nnot a part", "headers": MULTIPART}),
    Bad("predict-no-content-type", "POST", "/api/v1/predict", 422, r"^files: Field required",
        {"content": b"\x89PNG"}),
    Bad("predict-invert-sideways", "POST", "/api/v1/predict", 422,
        r"^invert: Input should be 'auto', 'on' or 'off'", {**files(("a.png", GOOD)), "data": {"invert": "no"}}),
    Bad("predict-topk-0", "POST", "/api/v1/predict", 422, r"^topk: Input should be greater than or equal to 1",
        {**files(("a.png", GOOD)), "data": {"topk": "0"}}),
    Bad("predict-topk-11", "POST", "/api/v1/predict", 422, r"^topk: Input should be less than or equal to 10",
        {**files(("a.png", GOOD)), "data": {"topk": "11"}}),
    Bad("predict-topk-words", "POST", "/api/v1/predict", 422, r"^topk: Input should be a valid integer",
        {**files(("a.png", GOOD)), "data": {"topk": "three"}}),
    Bad("predict-get", "GET", "/api/v1/predict", 405, r"^Method Not Allowed"),
    Bad("explain-not-an-image", "POST", "/api/v1/explain", 422, r"x\.gif cannot be read as an image",
        {"files": {"file": ("x.gif", b"GIF89a broken")}}),
    Bad("explain-zero-bytes", "POST", "/api/v1/explain", 422, r"cannot be read as an image",
        {"files": {"file": ("z.jpg", b"")}}),
    Bad("explain-no-file", "POST", "/api/v1/explain", 422, r"^file: Field required", {"data": {"invert": "on"}}),
    Bad("explain-files-not-file", "POST", "/api/v1/explain", 422, r"^file: Field required",
        files(("a.png", GOOD))),
    Bad("explain-1x60000", "POST", "/api/v1/explain", 422, r"over 28 times as long as wide",
        {"files": {"file": ("thin.png", png(np.full((1, 60_000), 9, np.uint8)))}}),
    Bad("explain-invert-wrong", "POST", "/api/v1/explain", 422, r"^invert: Input should be",
        {"files": {"file": ("a.png", GOOD)}, "data": {"invert": "yes"}}),
    Bad("explain-body-over-the-limit", "POST", "/api/v1/explain", 413, r"over the .* allowed",
        {"files": {"file": ("big.png", b"\0" * (MAX_BODY + 1))}}),
    Bad("unknown-route", "GET", "/api/v2/predict", 404, r"^Not Found"),
    Bad("models-post", "POST", "/api/v1/models", 405, r"^Method Not Allowed"),
    Bad("static-missing", "GET", "/static/nothing.js", 404, r"^Not Found"),
    Bad("path-up-out-of-static", "GET", "/static/../../etc/passwd", 404, r"^Not Found"),
    Bad("path-up-encoded", "GET", "/static/..%2f..%2f..%2fetc%2fpasswd", 404, r"^Not Found"),
]
# fmt: on


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_request_is_its_4xx_in_one_line_of_json_and_the_next_good_one_is_answered(server, row):
    response = server.client.request(row.method, row.path, **row.kw)
    assert response.status_code == row.status, response.text
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and re.search(row.says, body["error"]), body
    good = server.client.post("/api/v1/predict", files=[("files", ("good.png", GOOD))])
    assert good.status_code == 200 and good.json()["results"][0]["models"]


def test_the_table_has_the_rows_the_issue_asks_for():
    assert len(ROWS) >= 30 and len({row.id for row in ROWS}) == len(ROWS)


def test_a_client_that_sends_a_byte_a_second_is_answered_408_and_holds_no_one_up(server):
    host, port = re.match(r"http://([\d.]+):(\d+)/", server.url).groups()
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                 b"Content-Length: 1000\r\n\r\n--xx\r\nContent-Disposition: form-data; name=\"files\"; "
                 b"filename=\"a.png\"\r\n\r\n")  # a file's part begins, then its bytes come one a second  # fmt: skip
    start = time.monotonic()
    answer = b""
    try:
        while not answer and time.monotonic() - start < 30:
            slow.sendall(b"x")
            slow.settimeout(1)
            try:
                answer = slow.recv(4096)
            except TimeoutError:
                good = server.client.post("/api/v1/predict", files=[("files", ("good.png", GOOD))])
                assert good.status_code == 200  # others are served meanwhile
        slow.settimeout(10)
        while answer and not answer.endswith(b"}"):  # the headers and the body may come apart
            more = slow.recv(4096)
            if not more:
                break
            answer += more
    finally:
        slow.close()
    assert answer.startswith(b"HTTP/1.1 408") and b'{"error":"the request came too slowly' in answer, answer
