"""The web application: the JSON API under ``/api/v1/`` and the page at ``/``. Decoding and inference run on
worker threads, at most one a core at once (the rest queue), so the event loop only moves bytes; every error
is one line of JSON, ``{"error": "..."}``, with its 4xx status."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from importlib import resources
from typing import Annotated, Literal

import anyio
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as AnyHTTPException
from starlette.formparsers import MultiPartParser

from pixelsense import __version__
from pixelsense.constants import NUM_CLASSES
from pixelsense.infer.engine import ModelError
from pixelsense.serve.answers import Unusable, explain_upload, predict_uploads
from pixelsense.serve.models import Served

MAX_FILES = 32  # images in one predict request
MAX_BODY = 32 << 20  # bytes in one request, files and form together
BODY_SECONDS = 10  # a request's body may take this long, and more for a large one: BODY_RATE
BODY_RATE = 32 << 10  # bytes a second a body must come at after BODY_SECONDS (a slow phone sends more)
Polarity = Literal["auto", "on", "off"]


class Guess(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    label: int
    class_: str = Field(alias="class")
    probability: float


class Card(BaseModel):
    name: str
    architecture: str | None
    test_accuracy: float | None
    parameters: int | None
    classes: list[str]


class Result(BaseModel):
    file: str
    polarity: str | None = None  # "light-on-dark" (as the data set) or "dark-on-light" (a product photo)
    picture: list[list[int]] | None = None  # the 28×28 the models saw, 0–255
    models: dict[str, list[Guess]] | None = None  # model name → its top classes, best first
    error: str | None = None  # instead of the above, where this file cannot be used


class Looked(BaseModel):
    predictions: list[Guess]
    occlusion: list[list[float]]  # 28×28: how much covering each pixel lowers the given class's probability
    shifted: list[Guess]  # the answer at each shift of `shifts`, in that order


class Explained(BaseModel):
    file: str
    polarity: str
    picture: list[list[int]]
    reach: int
    shifts: list[tuple[int, int]]  # (dy, dx), row by row from (-reach, -reach)
    models: dict[str, Looked]


class Error(BaseModel):
    error: str


def create_app(models: list[Served], threads: int) -> FastAPI:
    """The application over ``models`` (opened and checked), running at most ``threads`` requests' work at
    once."""
    app = FastAPI(title="pixelsense", version=__version__, docs_url=None, redoc_url=None,  # no CDN's scripts
                  form_limits={"max_files": MAX_FILES, "max_fields": 8})  # fmt: skip
    # Starlette spools an upload over 1 MB to a temporary file; here none is ever written to disk.
    MultiPartParser.spool_max_size = MAX_BODY
    limiter = anyio.CapacityLimiter(threads)
    cards = app.state.cards = [model.card for model in models]
    errors = {code: {"model": Error} for code in (408, 413, 422)}

    async def work(call, *args) -> JSONResponse:
        """``call`` on a worker thread. Its answer is sent as it is: the routes' models describe it in the
        schema, but checking a 28×28 picture's 784 numbers each time would cost more than predicting it."""
        try:
            return JSONResponse(await anyio.to_thread.run_sync(partial(call, models, *args), limiter=limiter))
        except (
            Unusable,
            ModelError,
        ) as err:  # ModelError: the model fails on this picture (its trial passed)
            raise HTTPException(422, str(err)) from None

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/models")
    async def model_cards() -> list[Card]:
        return cards

    @app.post("/api/v1/predict", responses=errors, response_model=dict[str, list[Result]])
    async def predict(
        files: Annotated[list[UploadFile], File(description=f"1 to {MAX_FILES} images")],
        invert: Annotated[Polarity, Form()] = "auto",
        topk: Annotated[int, Form(ge=1, le=NUM_CLASSES)] = 3,
    ) -> JSONResponse:
        """Every model's top ``topk`` classes for each image, and the picture it saw (predict.py's rows)."""
        uploads = [
            (upload.filename or f"file {at + 1}", await upload.read()) for at, upload in enumerate(files)
        ]
        return await work(predict_uploads, uploads, invert, topk)

    @app.post("/api/v1/explain", responses=errors, response_model=Explained)
    async def explain(file: UploadFile, invert: Annotated[Polarity, Form()] = "auto") -> JSONResponse:
        """For one image: where each model looks, and its answer with the picture shifted up to 4 pixels."""
        return await work(explain_upload, (file.filename or "file", await file.read()), invert)

    page = resources.files("pixelsense.serve") / "static"
    app.mount("/static", StaticFiles(directory=str(page)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(page / "index.html"))

    @app.exception_handler(AnyHTTPException)  # Starlette's too: an unknown path, a method not allowed
    async def one_line(request: Request, err: AnyHTTPException) -> JSONResponse:
        return JSONResponse({"error": _sentence(err.detail)}, err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part not in ("body", "query"))
        return JSONResponse({"error": _sentence(f"{where}: {first['msg']}")}, 422)

    app.add_middleware(_Limits, most=MAX_BODY, seconds=BODY_SECONDS, rate=BODY_RATE)
    return app


def _sentence(detail) -> str:
    text = " ".join(str(detail).split())  # one line, whatever it was
    return text if text.endswith(".") else text + "."


class _Limits:
    """The request body's limits, answered in JSON: a body declared over ``most`` bytes is refused before any
    of it is read, one that turns out larger when it is read (413); one that comes slower than ``rate`` bytes
    a second after its first ``seconds`` (a byte a second, or nothing) is answered 408, holding no worker
    thread meanwhile."""

    def __init__(self, app, most: int, seconds: float, rate: int) -> None:
        self.app, self.most, self.seconds, self.rate = app, most, seconds, rate

    def _over(self, size: int) -> str:
        return _sentence(
            f"the request is {size:,} bytes or more, over the {self.most:,} allowed; send fewer files"
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.most:  # refused before a byte of it is read
            return await JSONResponse({"error": self._over(int(declared))}, 413)(scope, receive, send)
        start, received = time.monotonic(), 0

        async def patient():
            nonlocal received
            allowed = start + self.seconds + received / self.rate - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(allowed, 0.001))
            except (asyncio.TimeoutError, TimeoutError):  # one class from Python 3.11 on
                slow = f"the request came too slowly (under {self.rate:,} bytes/s after {self.seconds} s)"
                raise HTTPException(408, slow + "; send it again") from None
            received += len(message.get("body", b""))
            if received > self.most:  # a body sent without its length, or longer than it said
                raise HTTPException(413, self._over(received))
            return message

        return await self.app(scope, patient, send)
