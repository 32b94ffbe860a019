"""Rows of tests/test_bad_inputs.py: inference (scripts/predict.py), and the builders of the bad things they
use (also used by tests/test_predict.py)."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from badinput import STREAM_FD, Bad, appended, appending, close_stream, full_disk, unmount
from conftest import idx_bytes
from PIL import Image

from pixelsense.constants import CLASSES

Setup = Callable[[Path], None]
OUT = ("--output", "{tmp}/out.csv")  # written only where a row lists "out.csv" in its changes


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` pixels in a few dozen bytes (no pixel data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )


def png_with_exif(exif: bytes) -> bytes:
    """A good 28×28 PNG whose eXIf chunk holds ``exif`` (a phone's orientation is kept there)."""
    out = io.BytesIO()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(out, "PNG")
    png = out.getvalue()
    at = png.find(b"IDAT") - 4  # before the pixels, where Pillow reads it on opening
    return png[:at] + png_chunk(b"eXIf", exif) + png[at:]


def npy_file(header: str, data: bytes = b"") -> bytes:
    """A version 1.0 .npy file with the header text ``header`` (a valid one or not) and then ``data``."""
    raw = header.encode()
    raw += b" " * (63 - (10 + len(raw)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + data


def npy_declaring(shape: tuple[int, ...], dtype: str = "|u1", data: bytes = b"") -> bytes:
    """A .npy file whose header declares ``shape`` but which holds only ``data``."""
    return npy_file(repr({"descr": dtype, "fortran_order": False, "shape": shape}), data)


def onnx_model(
    path: Path, classes: int = 10, batch: int = -1, outputs: tuple[str, ...] = ("logits", "probabilities"),
    names: str = json.dumps(list(CLASSES)), nan_on_black: bool = False, at_most: int = 0,
):  # fmt: skip
    """A small model with a pixelsense export's input and metadata (``names``: the class names' JSON):
    ``classes`` scores per image, a Reshape to ``[batch, 784]`` (a fixed batch fails at run time on any
    other), the named ``outputs``. ``nan_on_black``: its logits add log(sum of the pixels), so an all-black
    picture gets NaN probabilities while the trial batch passes. ``at_most``: it gives no more than that many
    rows, whatever the batch (right for the trial batch of 3, wrong for larger ones)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.full((784, classes), 1e-4, np.float32), "w")
    shape = numpy_helper.from_array(np.array([batch, 784], np.int64), "shape")
    axis = numpy_helper.from_array(np.array([1], np.int64), "axis")
    nodes = [helper.make_node("Cast", ["images"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["scores" if nan_on_black else "logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"]),
             helper.make_node("Identity", ["logits"], ["extra"])]  # fmt: skip
    if at_most:
        nodes[2].output[0] = "all"
        ends = numpy_helper.from_array(np.array([at_most], np.int64), "ends")
        starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
        nodes.insert(3, helper.make_node("Slice", ["all", "starts", "ends"], ["logits"]))
        extra = [ends, starts]
    else:
        extra = []
    if nan_on_black:
        nodes[3:3] = [helper.make_node("ReduceSum", ["flat", "axis"], ["total"], keepdims=1),
                      helper.make_node("Log", ["total"], ["log"]),
                      helper.make_node("Add", ["scores", "log"], ["logits"])]  # fmt: skip
    images = helper.make_tensor_value_info("images", TensorProto.UINT8, ["N", 1, 28, 28])
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", classes]) for name in outputs]
    graph = helper.make_graph(nodes, "g", [images], outs, initializer=[weights, shape, axis, *extra])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    helper.set_model_props(model, {"classes": names})
    onnx.save(model, path)


def _labels_bomb(tmp: Path) -> None:
    """A 97 KB .gz of IDX labels whose header declares 100,000,000 (and which holds them, all 0)."""
    with gzip.open(tmp / "l-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (100_000_000).to_bytes(4, "big"))
        for _ in range(100):
            f.write(bytes(1_000_000))


def write(name: str, content: bytes | str | np.ndarray) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, np.ndarray):
            np.save(tmp / name, content, allow_pickle=True)
        elif isinstance(content, str):
            (tmp / name).write_text(content)
        else:
            (tmp / name).write_bytes(content)

    return setup


def image(name: str) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp / name)

    return setup


def both(*setups: Setup) -> Setup:
    def setup(tmp: Path) -> None:
        for each in setups:
            each(tmp)

    return setup


def truncated_png(tmp: Path) -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    noise.save(tmp / "full.png")
    (tmp / "cut.png").write_bytes((tmp / "full.png").read_bytes()[:200])
    (tmp / "full.png").unlink()


GOOD = "{images}/good0.png"
OLD = write("out.csv", "an earlier table\n")  # an existing output that a refusal must leave alone
U8 = np.zeros((2, 28, 28), np.uint8)
A_NPY = write("a.npy", U8)
IDX = write("x-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8)))
SHOTS = image("shots/x.png")
IDX_HEADER = struct.pack(">IIII", 0x803, 4_000_000_000, 28, 28)  # 4 billion 28×28 images, it says
LABELS = "".join(f"good{i}.png,{i}\n" for i in range(3))
NEGATIVE = write("neg.npy", npy_declaring((-1, 28, 28), data=bytes(784)))  # -1 × 784 bytes: "fits" any file
UNCLOSED = npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 28, 28) ", bytes(784))  # no "}"


def bad(id: str, args: tuple[str, ...], exit: int, says: str, setup: Setup | None = None, changes=(),
        then=None) -> Bad:  # fmt: skip
    """A predict row; ``--model {model}`` comes first, so a row's own ``--model`` wins."""
    args = ("--model", "{model}", *args)
    return Bad(f"predict-{id}", "predict", args, exit, says, setup=setup, changes=changes, then=then)


def nothing_written(tmp: Path, err: str) -> None:
    """A ``then``: the refusal is stderr's one line, and no out.csv (nor a temporary one) was made."""
    assert err.strip().count("\n") == 0 and err.strip().startswith("predict.py: error:"), err
    assert not (tmp / "out.csv").exists() and not list(tmp.glob(".out.csv*"))


ROWS: list[Bad] = [
    Bad("predict-output-a-stream-keeps-what-it-appends-to", "predict", ("--model", "{model}", GOOD, "--output",
        f"/dev/fd/{STREAM_FD}"), 0, r"1 images done, 0 failed", appending("log.txt"), close_stream,
        changes=("log.txt",), then=appended("log.txt")),
    # Missing, empty and special inputs: beside a good one they fail alone (exit 1); alone, exit 2.
    bad("missing-file-beside-a-good-one", (GOOD, "{tmp}/missing.png", *OUT), 1,
        r"missing\.png: does not exist", changes=("out.csv",)),
    bad("only-a-missing-file", ("{tmp}/missing.png", *OUT), 2, r"error: .*missing\.png: does not exist"),
    bad("no-inputs", OUT, 2, r"error: no inputs", then=nothing_written),
    bad("only-missing-and-empty", ("{tmp}/missing.png", "{tmp}/empty", "{tmp}/*.gif", *OUT), 2,
        r"error: none of the 3 inputs names a file", lambda t: (t / "empty").mkdir()),
    bad("empty-folder-beside-a-good-one", (GOOD, "{tmp}/empty", *OUT), 1, r"empty: holds or matches no",
        lambda t: (t / "empty").mkdir(), changes=("out.csv",)),
    bad("glob-matching-nothing-beside-a-good-one", (GOOD, "{tmp}/*.jpg", *OUT), 1,
        r"\*\.jpg: holds or matches no", changes=("out.csv",)),
    bad("only-an-empty-folder", ("{tmp}/empty", *OUT), 2, r"error: .*empty: holds or matches no",
        lambda t: (t / "empty").mkdir(), then=nothing_written),
    bad("fifo-named-like-an-image", (GOOD, "{tmp}/x.png", *OUT), 1, r"x\.png: is not a regular file",
        lambda t: os.mkfifo(t / "x.png"), changes=("out.csv",)),
    bad("fifo-named-like-an-array", ("{tmp}/x.npy", *OUT), 2, r"x\.npy: is not a regular file",
        both(OLD, lambda t: os.mkfifo(t / "x.npy"))),
    bad("fifo-in-a-folder", ("{tmp}/shots", *OUT), 1, r"x\.png: is not a regular file",
        both(image("shots/a.png"), lambda t: os.mkfifo(t / "shots" / "x.png")), changes=("out.csv",)),
    bad("broken-link-in-a-folder", ("{tmp}/shots", *OUT), 1, r"gone\.png: is a broken symbolic link",
        both(SHOTS, lambda t: (t / "shots" / "gone.png").symlink_to(t / "nowhere.png")), changes=("out.csv",)),
    bad("link-to-itself", ("{tmp}/self.png", *OUT), 2, r"self\.png: is a broken symbolic link",
        lambda t: (t / "self.png").symlink_to("self.png")),
    bad("folder-with-a-link-loop", ("{tmp}/shots", *OUT), 0, r"1 images done, 0 failed",
        both(SHOTS, lambda t: (t / "shots" / "loop").symlink_to(t / "shots")), changes=("out.csv",)),
    bad("recursive-glob-through-link-loops", ("{tmp}/shots/**/*.png", *OUT), 0, r"1 images done",
        both(SHOTS, lambda t: (t / "shots" / "up").symlink_to(".."),
             lambda t: (t / "shots" / "again").symlink_to(".")), changes=("out.csv",)),
    # Bad images: refused each with its reason; alone, nothing is written and an old output stays.
    bad("truncated-png", (GOOD, "{tmp}/cut.png", *OUT), 1, r"cut\.png: cannot be read as an image",
        truncated_png, changes=("out.csv",)),
    bad("text-named-png-alone", ("{tmp}/notes.png", *OUT), 2, r"notes\.png: cannot be read as an image",
        both(OLD, write("notes.png", "not a picture"))),
    bad("zero-byte-png", (GOOD, "{tmp}/zero.png", *OUT), 1, r"zero\.png: cannot be read as an image",
        write("zero.png", b""), changes=("out.csv",)),
    bad("png-of-20000x20000", ("{tmp}/huge.png", *OUT), 2, r"huge\.png: is too large to decode",
        write("huge.png", png_header(20000, 20000))),
    bad("png-over-pillows-own-limit", (GOOD, "{tmp}/bomb.png", *OUT), 1, r"bomb\.png: .* 100,000,000 pixels, over the",
        write("bomb.png", png_header(10000, 10000)), changes=("out.csv",)),
    bad("png-over-the-pixel-budget", ("{tmp}/big.png", *OUT), 2, r"8000×7000 = 56,000,000 pixels",
        write("big.png", png_header(8000, 7000))),
    # Bad arrays.
    bad("npy-of-pickled-objects", ("{tmp}/p.npy", *OUT), 2, r"p\.npy: holds pickled Python objects",
        both(OLD, write("p.npy", np.array([{"a": 1}], dtype=object)))),
    bad("npy-of-wrong-shape", (GOOD, "{tmp}/s.npy", *OUT), 1, r"has shape \(2, 27, 28\)",
        write("s.npy", np.zeros((2, 27, 28), np.uint8)), changes=("out.csv",)),
    bad("npy-truncated", ("{tmp}/t.npy", *OUT), 2, r"t\.npy: is truncated",
        write("t.npy", npy_declaring((5, 28, 28), data=bytes(1000)))),
    bad("npy-declaring-a-huge-shape", ("{tmp}/h.npy", *OUT), 2, r"header says shape \(10{12}, 28, 28\)",
        write("h.npy", npy_declaring((10**12, 28, 28), data=bytes(784)))),
    bad("npy-with-nan", ("{tmp}/n.npy", *OUT), 2, r"contains NaN or infinite values",
        write("n.npy", np.full((2, 28, 28), np.nan, np.float32))),
    bad("npy-with-inf", (GOOD, "{tmp}/i.npy", *OUT), 1, r"i\.npy: contains NaN or infinite",
        write("i.npy", np.full((2, 28, 28), np.inf, np.float64)), changes=("out.csv",)),
    bad("npy-with-negative-floats", ("{tmp}/m.npy", *OUT), 2, r"outside 0–1",
        write("m.npy", np.full((2, 28, 28), -0.5, np.float32))),
    bad("npy-of-int64", ("{tmp}/d.npy", *OUT), 2, r"has dtype int64",
        write("d.npy", np.zeros((2, 28, 28), np.int64))),
    # Bad IDX files.
    bad("idx-with-wrong-magic", ("{tmp}/m-idx3-ubyte", *OUT), 2, r"bad magic number",
        write("m-idx3-ubyte", b"\x00\x00\x08\x01" + bytes(100))),
    bad("idx-truncated", (GOOD, "{tmp}/c-idx3-ubyte", *OUT), 1, r"is truncated: the header says 300",
        write("c-idx3-ubyte", idx_bytes(np.zeros((300, 28, 28), np.uint8))[:-500]), changes=("out.csv",)),
    bad("idx-declaring-4-billion-images", ("{tmp}/h-idx3-ubyte", *OUT), 2, r"header says 4000000000 images, the file holds 1",
        write("h-idx3-ubyte", IDX_HEADER + bytes(784))),
    bad("idx-gz-declaring-4-billion-images", (GOOD, "{tmp}/h-idx3-ubyte.gz", *OUT), 1, r"h-idx3-ubyte\.gz: is truncated",
        write("h-idx3-ubyte.gz", gzip.compress(IDX_HEADER + bytes(784))), changes=("out.csv",)),
    bad("idx-of-27x28-images", ("{tmp}/w-idx3-ubyte", *OUT), 2, r"holds 27×28 images",
        write("w-idx3-ubyte", idx_bytes(np.zeros((3, 27, 28), np.uint8)))),
    bad("idx-gz-with-a-bad-crc", ("{tmp}/z-idx3-ubyte.gz", *OUT), 2, r"cannot be read \(CRC",
        write("z-idx3-ubyte.gz", gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)))[:-8] + bytes(8))),
    # Malformed headers, as inputs and as labels (and when --labels has inputs counted first).
    bad("npy-declaring-a-negative-shape", (GOOD, "{tmp}/neg.npy", *OUT), 1,
        r"neg\.npy: is not a \.npy array \(its header says shape \(-1, 28, 28\), which no array has\); save",
        NEGATIVE, changes=("out.csv",)),
    bad("npy-with-an-unclosed-header", (GOOD, "{tmp}/u.npy", *OUT), 1,
        r"u\.npy: is not a \.npy array \(its header does not parse\)", write("u.npy", UNCLOSED), changes=("out.csv",)),
    bad("npy-declaring-0-by-10-to-the-20", ("{tmp}/z.npy", *OUT), 2, r"shape \(0, 10{20}, 28\), which no array has",
        write("z.npy", npy_declaring((0, 10**20, 28)))),
    bad("npy-declaring-a-negative-shape-with-labels", (GOOD, "{tmp}/neg.npy", "--labels", "{tmp}/l.npy", *OUT), 1,
        r"neg\.npy: is not a \.npy array", both(NEGATIVE, write("l.npy", np.array([9]))), changes=("out.csv",)),
    bad("labels-npy-with-an-unclosed-header", (GOOD, "--labels", "{tmp}/l.npy", *OUT), 2,
        r"--labels .*l\.npy: is not a \.npy array \(its header does not parse\)", write("l.npy", UNCLOSED)),
    bad("labels-npy-declaring-a-negative-shape", (GOOD, "--labels", "{tmp}/l.npy", *OUT), 2,
        r"l\.npy: is not a \.npy array \(its header says shape \(-1,\)", write("l.npy", npy_declaring((-1,), data=bytes(8)))),
    bad("idx-of-10-bytes", (GOOD, "{tmp}/s-idx3-ubyte", *OUT), 1, r"s-idx3-ubyte: is truncated: 10 bytes",
        write("s-idx3-ubyte", IDX_HEADER[:10]), changes=("out.csv",)),
    bad("folder-of-idx-files", ("{tmp}/raw", *OUT), 2,
        r"raw: .*folders are searched for images only, so name IDX files and \.npy arrays themselves",
        write("raw/x-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8)))),
    bad("png-with-an-exif-that-does-not-parse", (GOOD, "{tmp}/ex.png", *OUT), 0, r"2 images done, 0 failed",
        write("ex.png", png_with_exif(b"no TIFF header: any bytes a camera app wrote")), changes=("out.csv",)),
    # An output that is also an input: refused before anything runs, nothing changed.
    bad("output-is-an-input-image", ("{tmp}/a.png", "--output", "{tmp}/a.png"), 2,
        r"--output .*a\.png is an input", image("a.png")),
    bad("output-is-an-input-npy", ("{tmp}/a.npy", "--output", "{tmp}/a.npy"), 2, r"is an input", A_NPY),
    bad("output-is-an-input-idx", ("{tmp}/x-idx3-ubyte", "--output", "{tmp}/x-idx3-ubyte"), 2,
        r"is an input", IDX),
    bad("output-in-an-input-folder", ("{tmp}/shots", "--output", "{tmp}/shots/x.png"), 2,
        r"is an input", SHOTS),
    bad("output-matched-by-an-input-glob", ("{tmp}/shots/*.png", "--output", "{tmp}/shots/x.png"), 2,
        r"is an input", SHOTS),
    bad("output-through-dot-dot", ("{tmp}/a.npy", "--output", "{tmp}/shots/../a.npy"), 2,
        r"is an input \(.*a\.npy\)", both(A_NPY, SHOTS)),
    bad("output-a-link-to-an-input", ("{tmp}/a.npy", "--output", "{tmp}/link.csv"), 2,
        r"link\.csv is an input", both(A_NPY, lambda t: (t / "link.csv").symlink_to(t / "a.npy"))),
    bad("output-a-hard-link-to-an-input", ("{tmp}/a.npy", "--output", "{tmp}/hard.csv"), 2,
        r"hard\.csv is an input", both(A_NPY, lambda t: os.link(t / "a.npy", t / "hard.csv"))),
    bad("more-threads-than-cores", (GOOD, "--threads", "100000"), 2, r"--threads: must be at most \d+, the cores of this machine"),
    bad("more-workers-than-cores", (GOOD, "--workers", "100000"), 2, r"--workers: must be at most \d+, the cores of this machine"),
    bad("workers-0", (GOOD, "--workers", "0"), 2, r"--workers: must be at least 1"),
    bad("invert-what", (GOOD, "--invert", "maybe"), 2, r"--invert: invalid choice: 'maybe'"),
    bad("a-batch-beyond-memory", (GOOD, "--batch-size", "1000000000"), 2, r"--batch-size: must be at most 65,536"),
    bad("output-is-the-model", (GOOD, "--output", "{model}"), 2, r"is the --model file"),
    bad("output-is-the-labels", (GOOD, "--labels", "{tmp}/l.csv", "--output", "{tmp}/l.csv"), 2,
        r"is the --labels file", write("l.csv", LABELS)),
    bad("output-is-a-folder", (GOOD, "--output", "{tmp}"), 2, r"names a folder; name a file"),
    bad("output-is-a-fifo", (GOOD, "--output", "{tmp}/f.csv"), 2, r"f\.csv is not a regular file; leave --output out",
        lambda t: os.mkfifo(t / "f.csv")),
    bad("output-inside-a-file", (GOOD, "--output", "{tmp}/note.txt/out.csv"), 2,
        r"note\.txt is a file, not a folder", write("note.txt", "a note")),
    bad("output-where-even-root-cannot-write", (GOOD, "--output", "/proc/pixelsense.csv"), 2,
        r"error: /proc/pixelsense\.csv: .*; pick another --output"),  # the name given, not the temporary one
    Bad("predict-output-on-a-full-disk", "predict", ("--model", "{model}", "{tmp}/many.npy", "--output",
        "{tmp}/full/out.csv"), 2, r"full/out\.csv: the disk is full; free some space or pick another --output",
        both(write("many.npy", np.zeros((2000, 28, 28), np.uint8)), full_disk("full", "16k")),
        teardown=unmount("full")),
    # Labels: checked whole before anything is predicted.
    bad("labels-truncated-gz", (GOOD, "--labels", "{tmp}/l.csv.gz", *OUT), 2, r"truncated or damaged \.gz",
        write("l.csv.gz", gzip.compress(LABELS.encode() * 50)[:-30])),
    bad("labels-binary-csv", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2, r"is not a text CSV file",
        write("l.csv", bytes(range(128, 256)))),
    bad("labels-csv-with-a-huge-field", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2, r"l\.csv is not a CSV file,label \(field",
        write("l.csv", "a.png," + "1" * 200_000 + "\n")),
    bad("labels-a-folder", (GOOD, "--labels", "{tmp}", *OUT), 2, r"--labels .*: is a folder, not a file"),
    bad("labels-missing", (GOOD, "--labels", "{tmp}/none.csv", *OUT), 2, r"none\.csv: does not exist"),
    bad("labels-out-of-range", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2,
        r"row 7: 12 is not a class index 0–9", write("l.csv", "file,label\n" + "a.png,1\n" * 5 + "b.png,12\n")),
    bad("labels-not-a-number", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2, r"row 3: 'shoe' is not a class",
        write("l.csv", "a.png,1\nb.png,2\nc.png,shoe\n")),
    bad("labels-empty", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2, r"l\.csv: is empty", write("l.csv", "")),
    bad("labels-idx-declaring-more-than-it-holds", (GOOD, "--labels", "{tmp}/l-idx1-ubyte", *OUT), 2,
        r"is truncated: the header says 1 labels, the file holds 0",
        write("l-idx1-ubyte", b"\x00\x00\x08\x01" + (1).to_bytes(4, "big"))),  # 4 billion: refused as too many
    bad("labels-gz-declaring-100-million", (GOOD, "--labels", "{tmp}/l-idx1-ubyte.gz", *OUT), 2,
        r"l-idx1-ubyte\.gz: holds 100,000,000 labels, but the inputs hold at most 1 image", _labels_bomb),
    bad("labels-idx-out-of-range", (GOOD, "--labels", "{tmp}/l-idx1-ubyte", *OUT), 2,
        r"index 0: 10 is not a class index", write("l-idx1-ubyte", idx_bytes(np.array([10], np.uint8)))),
    bad("labels-npy-of-floats", (GOOD, "--labels", "{tmp}/l.npy", *OUT), 2, r"holds float64 values",
        write("l.npy", np.array([0.5, 1.0]))),
    bad("labels-fifo", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 2, r"l\.csv: is not a regular file",
        lambda t: os.mkfifo(t / "l.csv")),
    bad("labels-npy-of-another-length", (GOOD, "--labels", "{tmp}/l.npy", *OUT), 2,
        r"l\.npy: holds 3 labels, but the inputs hold at most 1 image, ", write("l.npy", np.array([0, 1, 2]))),
    # Models that are not pixelsense exports, or break after loading.
    bad("model-missing", (GOOD, "--model", "{tmp}/none.onnx", *OUT), 2, r"none\.onnx does not exist"),
    bad("model-of-garbage", (GOOD, "--model", "{tmp}/g.onnx", *OUT), 2, r"cannot be loaded as an ONNX",
        write("g.onnx", b"\x08\x07garbage" * 10)),
    bad("model-truncated", (GOOD, "--model", "{tmp}/t.onnx", *OUT), 2, r"cannot be loaded as an ONNX",
        lambda t: (t / "t.onnx").write_bytes(next(t.glob("*.onnx")).read_bytes()[:300])),
    bad("model-a-fifo", (GOOD, "--model", "{tmp}/f.onnx", *OUT), 2, r"f\.onnx is not a regular file",
        lambda t: os.mkfifo(t / "f.onnx")),
    bad("model-foreign", (GOOD, "--model", "{tmp}/f.onnx", *OUT), 2, r"is not a pixelsense model",
        lambda t: onnx_model(t / "f.onnx", outputs=("probabilities",))),
    bad("model-with-an-extra-output", (GOOD, "--model", "{tmp}/e.onnx", *OUT), 2,
        r"is not a pixelsense model", lambda t: onnx_model(t / "e.onnx", outputs=("logits", "probabilities", "extra"))),
    bad("model-of-12-classes", (GOOD, "--model", "{tmp}/c.onnx", *OUT), 2,
        r"gives 'logits' of shape \(3, 12\)", lambda t: onnx_model(t / "c.onnx", classes=12)),
    bad("model-failing-at-run-time", (GOOD, "--model", "{tmp}/r.onnx", *OUT), 2,
        r"r\.onnx fails on a trial batch", lambda t: onnx_model(t / "r.onnx", batch=1)),
    # Options.
    bad("batch-size-0", (GOOD, "--batch-size", "0"), 2, r"--batch-size: must be at least 1, not 0"),
    bad("topk-11", (GOOD, "--topk", "11"), 2, r"--topk: invalid choice"),
    bad("threads-0", (GOOD, "--threads", "0"), 2, r"--threads: must be at least 1"),
    bad("model-empty", (GOOD, "--model", ""), 2, r"argument --model: is empty; name a file or a folder"),
    bad("output-empty", (GOOD, "--output", ""), 2, r"argument --output: is empty; name a file or a folder"),
    bad("input-empty", (GOOD, "", *OUT), 1, r'"": is an empty argument', changes=("out.csv",)),
    bad("output-ending-in-a-slash", (GOOD, "--output", "{tmp}/new/"), 2, r"new/ names a folder; name a file"),
    Bad("predict-output-on-a-read-only-disk", "predict", ("--model", "{model}", GOOD, "--output",
        "{tmp}/ro/out.csv"), 2, r"error: .*ro/out\.csv: Read-only file system; pick another --output",
        full_disk("ro", "64k", ",ro"), teardown=unmount("ro")),  # the file asked for, not the temporary one
    bad("model-whose-class-names-are-numbers", (GOOD, "--model", "{tmp}/n.onnx", *OUT), 2,
        r"n\.onnx is not a pixelsense model", lambda t: onnx_model(t / "n.onnx", names=json.dumps(list(range(10))))),
    bad("model-whose-class-names-are-null", (GOOD, "--model", "{tmp}/n.onnx", *OUT), 2,
        r"n\.onnx is not a pixelsense model", lambda t: onnx_model(t / "n.onnx", names="null")),
    bad("folder-with-a-file-link-to-itself", ("{tmp}/shots", *OUT), 1, r"shots/a\.png: .*symbolic link",
        both(SHOTS, lambda t: (t / "shots/a.png").symlink_to("a.png")), changes=("out.csv",)),
    bad("labels-csv-matching-no-input", (GOOD, "--labels", "{tmp}/l.csv", *OUT), 1,
        r"accuracy not computed: no predicted source matched", write("l.csv", "other.png,1\n"),
        changes=("out.csv",)),
]  # fmt: skip
