"""Batch inference with onnxruntime over images, folders, globs, IDX files and .npy arrays.

Imports onnxruntime, numpy, Pillow and simplejpeg only (no torch):
``python scripts/predict.py --model M.onnx INPUT...``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pixelsense.errors import PixelsenseError
from pixelsense.files import check_not_input, names_a_folder, output, output_file, stream_fd
from pixelsense.infer.chunk import Chunk
from pixelsense.infer.decoding import Decoder, cores
from pixelsense.infer.engine import ModelError, open_model, probabilities, unpredicted
from pixelsense.infer.inputs import count, read_all
from pixelsense.infer.labels import load_labels
from pixelsense.infer.output import Rows
from pixelsense.paths import Failure, NoInputs, expand

IN_FLIGHT = 2048  # images onnxruntime runs at once in this process, at most (CNN: 100 KB of activations each)
PASS = "pass image files, folders, globs, IDX files or .npy arrays"


@dataclass
class Request:
    """What predict.py is asked to do: its options, with their defaults (the command line's too)."""

    model: str  # a .onnx file exported by pixelsense
    inputs: list[str]  # image files, folders, globs, IDX image files, .npy arrays
    output: str | None = None  # a file written whole or not at all; None: stdout
    batch_size: int = 256  # images per onnxruntime call
    format: str = "csv"  # or "jsonl"
    topk: int = 1  # also the K best classes
    labels: str | None = None  # true labels (IDX, .npy or CSV): the accuracy is reported
    invert: str = "auto"  # image files' polarity: photo.POLARITIES
    workers: int = field(default_factory=cores)  # processes decoding image files
    threads: int | None = None  # onnxruntime threads a batch in the main process
    provider: str = "cpu"  # engine.PROVIDERS


class OutputError(PixelsenseError):
    """--output cannot be written; the message says why."""


class NothingPredicted(PixelsenseError):
    """Every input failed (each said why); nothing was written."""


def batches(stream: Iterator[Chunk | Failure], size: int) -> Iterator[Chunk | Failure]:
    """Regroup chunks into batches of ``size`` images; failures pass straight through."""
    sources: list[str] = []
    polarities: list[str] = []
    parts: list[np.ndarray] = []
    for item in stream:
        if isinstance(item, Failure):
            yield item
            continue
        if item.probabilities is not None:  # predicted by a decoding worker: its rows come next, as they are
            if sources:
                yield Chunk(sources, np.concatenate(parts), polarities)
                sources, parts, polarities = [], [], []
            yield item
            continue
        if not sources and len(item.sources) == size:  # a whole batch already (an array's chunk): no copy
            yield item
            continue
        start = 0
        while start < len(item.sources):
            take = min(size - len(sources), len(item.sources) - start)
            sources += item.sources[start : start + take]
            polarities += item.polarities[start : start + take]
            parts.append(item.images[start : start + take])
            start += take
            if len(sources) == size:
                yield Chunk(sources, np.concatenate(parts), polarities)
                sources, parts, polarities = [], [], []
    if sources:
        yield Chunk(sources, np.concatenate(parts), polarities)


def run(args: Request) -> int:
    items = expand(args.inputs)
    files = [item for item in items if not isinstance(item, Failure)]
    if not files:
        raise NoInputs(_nothing(items))
    if args.output:
        _check_output(args, files)
    in_workers = args.model if args.provider == "cpu" else None  # the workers predict what they decode
    with Decoder(args.invert, args.workers, in_workers) as decode:
        decode.start(items)  # before onnxruntime starts threads
        runs, threads = _runs(args)
        # onnxruntime's threads wait for work without spinning, which would take the cores from the rows
        session, classes = open_model(args.model, args.provider, threads, spin=False)
        images = count(items) if sys.stderr.isatty() or args.labels else None
        # IDX or .npy labels beyond what the inputs hold are refused from their header, before the body
        labels = load_labels(args.labels, most=images) if args.labels else None
        total = images if sys.stderr.isatty() else None  # a progress bar only where someone watches
        stream = batches(read_all(items, args.batch_size, decode), args.batch_size)
        if args.output:
            # A file name that is not UTF-8 is written as the bytes it is (surrogateescape), as ls would.
            with output(args.output, "w", newline="", errors="surrogateescape") as out:
                counts = _predict(stream, session, classes, args, out, total, labels is not None, runs)
        else:
            counts = _predict(stream, session, classes, args, sys.stdout, total, labels is not None, runs)
    done, failed, seconds, predictions = counts
    rate = done / max(seconds, 1e-9)
    print(f"predict.py: {done} images done, {failed} failed, {rate:.0f} img/s", file=sys.stderr)
    scored = True
    if labels is not None:
        # The accuracy report joins the table on stdout only when the table went to a file.
        scored = _report_accuracy(predictions, labels, classes, sys.stdout if args.output else sys.stderr)
    return 1 if failed or not scored else 0


def _runs(args: Request) -> tuple[int, int | None]:
    """How many batches onnxruntime runs at once, and its threads for each. On the CPU, a batch on each core,
    one thread each (--threads N: N each, fewer at once), so that a thread this one interrupts to write rows
    delays its own batch only; but no more than IN_FLIGHT images at once (large batches: fewer at once,
    more threads each)."""
    if args.provider != "cpu":
        return 1, args.threads
    runs = max(1, min(cores() // (args.threads or 1), IN_FLIGHT // args.batch_size))
    return runs, args.threads or max(1, cores() // runs)


def _nothing(items: list[Failure]) -> str:
    """Why there is nothing to predict at all, in one line (several reasons go on lines of their own)."""
    if len(items) == 1:
        return f"{items[0].source}: {items[0].reason}; {PASS}."
    for item in items:
        print(f"predict.py: {item.source}: {item.reason}", file=sys.stderr)
    what = f"none of the {len(items)} inputs names a file to read" if items else "no inputs"
    return f"{what}; {PASS}."


def _check_output(args: Request, files: list) -> None:
    """Refuse, before anything runs, an --output that would replace an input or cannot be a file."""
    check_not_input(args.output, files, "--output")
    check_not_input(args.output, [args.model], "--output", "the --model file")
    check_not_input(args.output, [args.labels] if args.labels else [], "--output", "the --labels file")
    output = Path(args.output)
    if output.is_dir() or names_a_folder(args.output):
        example = output / "out.csv"
        raise OutputError(f"--output {args.output} names a folder; name a file, such as {example}.")
    if stream_fd(args.output) is None and output.exists() and not output.is_file():  # a FIFO, a device
        raise OutputError(f"--output {output} is not a regular file; leave --output out to write to stdout.")
    output_file("--output", output)


def _predict(
    stream, session, classes, args, out, total: int | None, keep: bool, runs: int
) -> tuple[int, int, float, list[tuple[str, int]]]:
    """Run the batches and write the rows to ``out`` as they come (memory stays bounded); NothingPredicted
    when there is none, so that no output is written. onnxruntime runs ``runs`` batches at once, each in a
    thread of its own (it lets go of the GIL), while the oldest batch's rows are written and the next batch
    is read."""
    rows = Rows(out, args.format, args.topk, classes)
    done, failed, start = 0, 0, time.perf_counter()
    predictions: list[tuple[str, int]] = []
    # The bar, where someone watches (the total comes from the inputs' headers); failures print above it. The
    # first line, always: run in a process where another bar is open (a notebook's), it does not stack below.
    bar = tqdm(total=total, disable=total is None, desc="predict.py", unit="img", file=sys.stderr, position=0)
    with (
        bar,
        ThreadPoolExecutor(runs, thread_name_prefix="onnxruntime") as runner,
    ):
        running: deque[tuple[Chunk, Future]] = deque()  # batches on their way, in order
        for item in itertools.chain(stream, [None]):  # None: the end, when the last batches are written
            if isinstance(item, Failure):
                failed += 1
                bar.set_postfix_str(f"{failed} failed", refresh=False)
                bar.write(f"predict.py: {item.source}: {item.reason}", file=sys.stderr)
                continue
            if item is not None:
                running.append((item, _start(runner, session, item, args.model)))
            while len(running) > runs or (item is None and running):
                chunk, future = running.popleft()
                chunk, found, lost, said = _usable(chunk, future, args.model)
                failed += lost
                for line in said:
                    bar.write(f"predict.py: {line}", file=sys.stderr)
                if lost:
                    bar.set_postfix_str(f"{failed} failed", refresh=False)
                labels = rows.write(found, chunk) if chunk.sources else []
                done += len(labels)
                if keep:
                    predictions += zip(chunk.sources, labels, strict=True)
                bar.update(len(labels))
    if not done:
        kept = f"--output {args.output} was left as it was" if args.output else "nothing was written"
        which = "the input could not" if failed == 1 else f"none of the {failed} inputs could"
        raise NothingPredicted(f"{which} be predicted (see above); {kept}.")
    return done, failed, time.perf_counter() - start, predictions


def _start(runner: ThreadPoolExecutor, session, item: Chunk, model: str) -> Future:
    """The batch's probabilities to come: onnxruntime started on it, or those a decoding worker found."""
    if item.probabilities is None:
        return runner.submit(_run, session, item, model)
    done: Future = Future()
    done.set_result(item.probabilities)
    return done


def _run(session, item: Chunk, model: str) -> np.ndarray:
    return probabilities(session, item.images, model, item.sources[0])


def _usable(chunk: Chunk, future: Future, model: str) -> tuple[Chunk, np.ndarray, int, list[str]]:
    """The batch's images that have probabilities, those, how many images failed, and a line for each
    failure: a batch the model fails on fails whole (one line), and an image it gives NaN fails alone, as
    an image that cannot be read does."""
    try:
        found = future.result()
    except ModelError as err:
        return (
            Chunk([], chunk.images[:0], []),
            np.empty((0, 0)),
            len(chunk.sources),
            [str(err).rstrip(".") + "; left out."],
        )
    bad = unpredicted(found)
    if not bad.any():
        return chunk, found, 0, []
    said = [f"{source}: {model} gives it no probabilities (NaN or infinity), so it has no class; left out."
            for source in itertools.compress(chunk.sources, bad)]  # fmt: skip
    keep = ~bad
    kept = Chunk(list(itertools.compress(chunk.sources, keep)), chunk.images[keep],
                 list(itertools.compress(chunk.polarities, keep)))  # fmt: skip
    return kept, found[keep], int(bad.sum()), said


def _report_accuracy(predictions: list[tuple[str, int]], labels, classes: list[str], out) -> bool:
    """Print the accuracy against ``labels``; False (with a line saying why) when it cannot be computed."""
    if isinstance(labels, dict):
        # by the source as written, else by its file name where no other predicted source has that name
        names = collections.Counter(Path(src).name for src, _ in predictions)
        pairs = [(labels.get(src, labels.get(Path(src).name) if names[Path(src).name] == 1 else None), pred)
                 for src, pred in predictions]  # fmt: skip
    elif len(labels) != len(predictions):  # too few labels, or inputs failed: which label is whose is unknown
        print(f"predict.py: accuracy not computed: {len(labels)} labels for {len(predictions)} predictions "
              "(IDX and .npy labels follow the output order, one per predicted image); pass one label per "
              "image, or a CSV of file,label.", file=sys.stderr)  # fmt: skip
        return False
    else:
        pairs = list(zip(labels, (p for _, p in predictions), strict=True))
    pairs = [(t, p) for t, p in pairs if t is not None]
    if not pairs:
        print("predict.py: accuracy not computed: no predicted source matched a file in the --labels CSV "
              "(matched by the source as written in the rows, or by its file name where only one input has "
              "it); pass a CSV of these files.", file=sys.stderr)  # fmt: skip
        return False
    true, pred = np.array(pairs).T
    print(f"accuracy: {(true == pred).mean():.4f} ({len(pairs)} labelled images)", file=out)
    for index, name in enumerate(classes):
        mask = true == index
        if mask.any():
            print(f"  {name:<12} {(pred[mask] == index).mean():.4f} ({mask.sum()} images)", file=out)
    return True


PREFIX = "predict.py: "  # what begins each failure line on stderr


class NotAllPredicted(PixelsenseError):
    """predict_quietly's inputs were not all predicted; the message gives predict.py's reason."""


def predict_quietly(model: str, inputs: list[str], output: str, workers: int | None = None) -> None:
    """``run`` with what it prints kept back, for callers that read its ``output`` (photos.py, the benches);
    NotAllPredicted, with predict.py's own reason, unless every input was predicted, since their inputs are
    their own."""
    request = Request(model, inputs, output, **({"workers": workers} if workers else {}))
    said = io.StringIO()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(said):
        try:
            code, ended = run(request), None
        except PixelsenseError as err:
            code, ended = None, str(err)
    if code != 0:  # the first failure's line says why, where there is one (the stderr of a run is hidden)
        failures = [line for line in said.getvalue().splitlines() if line.startswith(PREFIX)]
        reason = failures[0].removeprefix(PREFIX) if failures else ended or f"exit {code}"
        raise NotAllPredicted(f"predict.py did not predict every image of {', '.join(inputs)}; the first "
                              f"reason: {reason}")  # fmt: skip
