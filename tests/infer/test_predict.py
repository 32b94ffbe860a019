"""scripts/predict.py: onnxruntime batch inference over every input kind, with clear per-input errors."""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_inference import npy_declaring, onnx_model, png_with_exif
from conftest import idx_bytes
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile
from tqdm import tqdm

from pixelsense.cli import predict_main as main
from pixelsense.files import OutputIsInput, check_not_input
from pixelsense.infer import jpeg
from pixelsense.infer import predict as predict_module
from pixelsense.infer.chunk import Chunk
from pixelsense.infer.images import load_image, read_images
from pixelsense.paths import Failure, _glob, expand
from pixelsense.train.export import export
from pixelsense.train.module import Classifier

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    images = torch.from_numpy(RNG.integers(0, 256, (300, 28, 28), dtype=np.uint8))
    export(Classifier(arch="ann", hidden=(16,)), path, images)
    return path


def predict(model_path, *args) -> int:
    return main(["--model", str(model_path), *map(str, args)])


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def make_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nested").mkdir()
    Image.fromarray(RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(folder / "rgb.png")
    Image.fromarray(RNG.integers(0, 256, (28, 28, 4), dtype=np.uint8), "RGBA").save(
        folder / "nested" / "a.png"
    )
    Image.fromarray(RNG.integers(0, 256, (500, 300, 3), dtype=np.uint8)).save(folder / "nested" / "b.jpg")
    Image.fromarray(RNG.integers(0, 65536, (30, 30), dtype=np.uint16)).save(folder / "deep.tif")
    Image.fromarray(RNG.integers(0, 256, (28, 28), dtype=np.uint8)).convert("P").save(folder / "p.gif")
    Image.fromarray(RNG.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / "x.bmp")
    arrays = folder.parent / "arrays"
    arrays.mkdir()
    np.save(arrays / "u8.npy", RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    np.save(arrays / "f.npy", RNG.random((3, 1, 28, 28), dtype=np.float32))
    (arrays / "imgs-idx3-ubyte").write_bytes(idx_bytes(RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)))
    (arrays / "t-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8))))
    return {"folder": folder, "arrays": arrays}


def test_every_input_kind_in_one_call(tmp_path, model_path, capsys):
    paths = make_inputs(tmp_path / "images")
    arrays = paths["arrays"]
    out = tmp_path / "out.csv"
    code = predict(model_path, paths["folder"], arrays / "u8.npy", arrays / "f.npy", arrays / "imgs-idx3-ubyte",
                   arrays / "t-idx3-ubyte.gz", f"{paths['folder']}/**/*.png", "--output", out,
                   "--batch-size", "4", "--topk", "3")  # fmt: skip
    assert code == 0
    got = rows(out)
    sources = [r["source"] for r in got]
    assert len(got) == 6 + 5 + 3 + 7 + 4 + 2  # the glob finds the two PNGs again
    assert sources[:6] == [str(p) for p in sorted(paths["folder"].rglob("*")) if p.is_file()]
    assert f"{arrays / 'f.npy'}:2" in sources and f"{arrays / 't-idx3-ubyte.gz'}:3" in sources
    assert list(got[0]) == ["source", "label", "class", "confidence", "top2_label", "top2_class",
                            "top2_confidence", "top3_label", "top3_class", "top3_confidence", "polarity"]  # fmt: skip
    assert all(
        float(r["confidence"]) >= float(r["top2_confidence"]) >= float(r["top3_confidence"]) for r in got
    )
    assert "27 images done, 0 failed" in capsys.readouterr().err


def test_batches_run_at_once_come_out_in_order(tmp_path, model_path, monkeypatch):
    """Several batches run at once (a batch on each core, one thread each), or one at a time on all the
    threads: the same rows, in order; and never more than IN_FLIGHT images at once, nor more threads than
    cores."""
    np.save(tmp_path / "a.npy", RNG.integers(0, 256, (1000, 28, 28), dtype=np.uint8))
    outputs = []
    for threads in ([], ["--threads", "2"]):
        out = tmp_path / f"out{len(threads)}.csv"
        assert predict(model_path, tmp_path / "a.npy", "--batch-size", "16", "--topk", "10", "--output", out,
                       *threads) == 0  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert [row["source"] for row in rows(tmp_path / "out0.csv")] == [
        f"{tmp_path / 'a.npy'}:{i}" for i in range(1000)
    ]
    for cores in (1, 2, 3, 64):
        monkeypatch.setattr(predict_module, "cores", lambda cores=cores: cores)
        for batch in (1, 256, 4096, 65_536):
            for threads in (None, 1, 2):
                runs, each = predict_module._runs(
                    Namespace(provider="cpu", threads=threads, batch_size=batch)
                )
                assert runs >= 1 and runs * batch <= max(batch, predict_module.IN_FLIGHT)
                assert runs * each <= max(cores, threads or 1) and (threads is None or each == threads)


def test_jsonl_to_stdout(tmp_path, model_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros((2, 28, 28), np.uint8))
    assert predict(model_path, tmp_path / "a.npy", "--format", "jsonl") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["source"] for line in lines] == [f"{tmp_path / 'a.npy'}:{i}" for i in range(2)]


def test_image_conversion(tmp_path):
    def saved(image: Image.Image, name: str) -> Path:
        image.save(tmp_path / name)
        return tmp_path / name

    deep = Image.fromarray(np.full((28, 28), 32896, np.uint16))  # 16-bit mid grey
    assert load_image(saved(deep, "deep.png"), "off")[0][0, 0] == 128  # scaled, not clipped to 255
    clear = Image.fromarray(np.full((28, 28, 4), [0, 0, 0, 0], np.uint8), "RGBA")
    # transparent is the white of a product photo's background: read as dark on light, so black once inverted
    image, polarity = load_image(saved(clear, "clear.png"))
    assert image.max() == 0 and polarity == "dark-on-light"
    assert load_image(saved(clear, "clear.png"), "off")[0].max() == 0  # on black, with inversion off
    wide = np.zeros((30, 60), np.uint8)
    wide[10:20, 10:50] = 255  # a white 10×40 bar on black
    small, polarity = load_image(saved(Image.fromarray(wide), "wide.png"))
    assert polarity == "light-on-dark"  # trimmed to the bar, longest side 28, centered: padded, not stretched
    assert (
        small.shape == (28, 28)
        and small[:9].max() == 0
        and small[19:].max() == 0
        and small[12:16].min() > 200
    )


def test_bad_inputs_are_one_line_each_and_the_good_ones_are_predicted(tmp_path, model_path, capsys):
    bad = {
        "truncated.png": None,
        "empty.png": b"",
        "notes.txt": b"hello",
        "shape.npy": np.zeros((2, 27, 28), np.uint8),
        "dtype.npy": np.zeros((2, 28, 28), np.int64),
        "nan.npy": np.full((2, 28, 28), np.nan, np.float32),
        "range.npy": np.full((2, 28, 28), 3.0, np.float32),
        "pickled.npy": np.array([{"a": 1}], dtype=object),
        "cut-idx3-ubyte": idx_bytes(np.zeros((300, 28, 28), np.uint8))[:-500],
        "magic-idx3-ubyte": b"\x00\x00\x08\x01" + bytes(100),
    }
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "full.png")
    (tmp_path / "truncated.png").write_bytes((tmp_path / "full.png").read_bytes()[:60])
    for name, content in bad.items():
        if isinstance(content, np.ndarray):
            np.save(tmp_path / name, content, allow_pickle=True)
        elif content is not None:
            (tmp_path / name).write_bytes(content)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((3, 28, 28), np.uint8))
    out = tmp_path / "out" / "predictions.csv"
    code = predict(model_path, *(tmp_path / n for n in bad), good, tmp_path / "missing.png", "--output", out)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    for name in [*bad, "missing.png"]:
        assert sum(name in line for line in err.splitlines()) == 1, name
    for reason in ["pickled Python objects", "contains NaN", "outside 0–1", "has dtype int64", "has shape (2, 27, 28)",
                   "is truncated: the header says 300 images", "bad magic number", "not an image, IDX or .npy",
                   "does not exist"]:  # fmt: skip
        assert reason in err
    sources = [r["source"] for r in rows(out)]
    assert sources[-3:] == [f"{good}:{i}" for i in range(3)]
    assert not any(s.startswith(str(tmp_path / "cut-idx3-ubyte")) for s in sources)  # checked before any row


# No inputs, or only an empty folder: the rows predict-no-inputs and predict-only-an-empty-folder.
@pytest.mark.parametrize("args", [["{empty}/*.png"], ["--model-override", "README"]])
def test_nothing_to_do_or_a_foreign_model_is_exit_2(tmp_path, model_path, capsys, args):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out.csv"
    model = model_path
    if args[:1] == ["--model-override"]:
        model, args = ROOT / "README.md", [str(tmp_path / "empty")]
    code = main(
        ["--model", str(model), *(a.format(empty=tmp_path / "empty") for a in args), "--output", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and err.startswith("predict.py: error:")
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))


def test_a_model_with_another_input_is_refused(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["probabilities"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 784])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 784])],
    )  # fmt: skip
    # An IR version and opset that every onnxruntime this project supports can load.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    onnx.save(model, tmp_path / "other.onnx")
    np.save(tmp_path / "a.npy", np.zeros((1, 28, 28), np.uint8))
    assert main(["--model", str(tmp_path / "other.onnx"), str(tmp_path / "a.npy")]) == 2
    assert "is not a pixelsense model" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["idx", "npy", "csv", "csv.gz"])
def test_labels_give_accuracy(tmp_path, model_path, capsys, kind):
    images = RNG.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    assert predict(model_path, tmp_path / "x.npy", "--output", tmp_path / "p.csv") == 0
    predicted = np.array([int(r["label"]) for r in rows(tmp_path / "p.csv")])
    truth = predicted.copy()
    truth[:5] = (truth[:5] + 1) % 10  # 15 of 20 right
    labels = tmp_path / f"labels.{kind}"
    if kind == "idx":
        labels.write_bytes(idx_bytes(truth.astype(np.uint8)))
    elif kind == "npy":
        np.save(labels, truth)
    else:  # a header line and a spreadsheet's byte-order mark are fine
        text = "\ufefffile,label\n" + "".join(f"{tmp_path / 'x.npy'}:{i},{t}\n" for i, t in enumerate(truth))
        labels.write_bytes(gzip.compress(text.encode()) if kind.endswith(".gz") else text.encode())
    capsys.readouterr()
    assert predict(model_path, tmp_path / "x.npy", "--labels", labels, "--output", tmp_path / "p.csv") == 0
    assert "accuracy: 0.7500 (20 labelled images)" in capsys.readouterr().out


def test_predict_never_imports_torch(tmp_path, model_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 28, 28), np.uint8))
    code = (
        "import sys; from pixelsense.cli import predict_main as main; "
        f"rc = main(['--model', r'{model_path}', r'{tmp_path / 'a.npy'}', '--output', r'{tmp_path / 'o.csv'}']); "
        "bad = [m for m in ('torch', 'pytorch_lightning', 'torchvision') if m in sys.modules]; "
        "assert rc == 0 and not bad, (rc, bad)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert len(rows(tmp_path / "o.csv")) == 2


def test_more_bad_inputs(tmp_path, model_path, capsys):
    (tmp_path / "zero.npy").write_bytes(b"")
    np.save(tmp_path / "none.npy", np.zeros((0, 28, 28), np.uint8))
    (tmp_path / "none-idx3-ubyte").write_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    packed = bytearray(gzip.compress(idx_bytes(np.zeros((30, 28, 28), np.uint8))))
    packed[-8] ^= 0xFF  # break the CRC
    (tmp_path / "crc-idx3-ubyte.gz").write_bytes(bytes(packed))
    names = ["zero.npy", "none.npy", "none-idx3-ubyte", "crc-idx3-ubyte.gz"]
    out = tmp_path / "out.csv"
    out.write_text("an earlier table\n")
    assert predict(model_path, *(tmp_path / n for n in names), "--output", out) == 2  # every input failed
    err = capsys.readouterr().err
    assert "Traceback" not in err and "zero.npy: is empty" in err
    assert err.count("holds no images") == 2 and "crc-idx3-ubyte.gz: cannot be read" in err
    assert "error: none of the 4 inputs could be predicted" in err
    assert out.read_text() == "an earlier table\n" and not list(tmp_path.glob("*.part"))
    assert predict(model_path, *(tmp_path / n for n in names)) == 2
    assert capsys.readouterr().out == ""  # not even a header


# --batch-size 0, --topk 11: the rows predict-batch-size-0 and predict-topk-11.
@pytest.mark.parametrize("args", [["--threads", "-1"]])
def test_bad_options_are_refused(tmp_path, model_path, args, capsys):
    np.save(tmp_path / "a.npy", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(SystemExit) as done:
        predict(model_path, tmp_path / "a.npy", *args)
    assert done.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_a_model_with_a_frozen_batch_is_refused(tmp_path, capsys):
    from pixelsense.train.export import Deployable

    model = Deployable(Classifier(arch="ann", hidden=(8,)).net).eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28, dtype=torch.uint8),), tmp_path / "fixed.onnx",
                      input_names=["images"], output_names=["logits", "probabilities"], dynamo=True)  # fmt: skip
    np.save(tmp_path / "a.npy", np.zeros((3, 28, 28), np.uint8))
    assert main(["--model", str(tmp_path / "fixed.onnx"), str(tmp_path / "a.npy")]) == 2
    assert "is not a pixelsense model" in capsys.readouterr().err


def test_labels_that_do_not_fit_are_said_so(tmp_path, model_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    np.save(tmp_path / "short.npy", np.array([1, 2]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "short.npy") == 1  # asked for
    captured = capsys.readouterr()
    assert "not computed: 2 labels for 4 predictions" in captured.err and "accuracy:" not in captured.out
    out = tmp_path / "out.csv"  # more labels than the inputs can give: said before anything runs
    np.save(tmp_path / "long.npy", np.arange(6) % 10)
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "long.npy", "--output", out) == 2
    captured = capsys.readouterr()
    assert "long.npy: holds 6 labels, but the inputs hold at most 4 images" in captured.err
    assert not out.exists() and "Traceback" not in captured.err
    np.save(tmp_path / "flat.npy", np.zeros((3, 784), np.uint8))  # declares 3 images, but fails: 4 predicted
    np.save(tmp_path / "four.npy", np.arange(4))
    assert (
        predict(model_path, tmp_path / "x.npy", tmp_path / "flat.npy", "--labels", tmp_path / "four.npy") == 1
    )
    err = capsys.readouterr().err  # the table went to stdout, so the report goes to stderr
    assert "(4 labelled images)" in err and "not computed" not in err and "flat.npy" in err
    cut = tmp_path / "cut-idx3-ubyte"  # its header says 4 images, it holds 3: found only when read
    cut.write_bytes(struct.pack(">IIII", 0x803, 4, 28, 28) + bytes(3 * 784))
    np.save(tmp_path / "eight.npy", np.arange(8))
    assert predict(model_path, tmp_path / "x.npy", cut, "--labels", tmp_path / "eight.npy") == 1
    assert "not computed: 8 labels for 4 predictions" in capsys.readouterr().err
    np.save(tmp_path / "wild.npy", np.array([3, 40, 1, 2]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "wild.npy") == 2
    assert "wild.npy: index 1: 40 is not a class index 0–9" in capsys.readouterr().err


def test_accuracy_stays_off_a_table_on_stdout(tmp_path, model_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "y.npy") == 0
    captured = capsys.readouterr()
    assert "accuracy: " not in captured.out and "accuracy: " in captured.err
    assert len(captured.out.strip().splitlines()) == 5  # header + 4 rows


def test_float_and_rotated_images(tmp_path):
    Image.fromarray(np.full((28, 28), 0.5, np.float32)).save(tmp_path / "float.tif")
    assert load_image(tmp_path / "float.tif", "off")[0][5, 5] == 128
    tall = np.zeros((40, 20), np.uint8)
    tall[4:36, 3:8] = 255  # a bar on the left, and a stem to the right of its middle: a T lying down
    tall[18:22, 8:17] = 255
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    image.transpose(Image.Transpose.ROTATE_270).save(tmp_path / "upright.jpg", quality=100)
    shown, upright = load_image(tmp_path / "rotated.jpg")[0], load_image(tmp_path / "upright.jpg")[0]
    rows = np.flatnonzero((shown > 128).any(1))  # the bar on top once upright: wider than the stem below
    assert (shown[rows[0]] > 128).sum() > 20 and (shown[rows[-1]] > 128).sum() < 10
    assert np.abs(shown.astype(int) - upright).max() <= 2


def test_an_exif_that_does_not_parse_turns_nothing_and_warns_nothing(tmp_path, model_path, capsys):
    """A PNG's eXIf that is no TIFF, or whose first IFD lies past its end: the pixels as they are, no line
    from Pillow's TiffImagePlugin on stderr."""
    (tmp_path / "plain.png").write_bytes(png_with_exif(b""))
    (tmp_path / "junk.png").write_bytes(png_with_exif(b"no TIFF header: any bytes a camera app wrote"))
    (tmp_path / "far.png").write_bytes(png_with_exif(b"II*\0" + struct.pack("<I", 999_999) + bytes(20)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert predict(model_path, *(tmp_path / n for n in ("junk.png", "far.png"))) == 0
    assert not [w for w in caught if "EXIF" in str(w.message)] and "EXIF" not in capsys.readouterr().err
    for name in ("junk.png", "far.png"):
        assert np.array_equal(load_image(tmp_path / name)[0], load_image(tmp_path / "plain.png")[0])


def test_an_image_beyond_free_memory_fails_alone(tmp_path, monkeypatch):
    """A MemoryError while one file is decoded (by libjpeg-turbo, then by Pillow) is that file's failure."""
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "big.jpg")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "good.jpg")
    real = JpegImageFile.load

    def load(im):
        if Path(im.filename).name == "big.jpg":
            raise MemoryError
        return real(im)

    def decode_jpeg(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(JpegImageFile, "load", load)
    if jpeg.simplejpeg is not None:
        monkeypatch.setattr(jpeg.simplejpeg, "decode_jpeg", decode_jpeg)
    failure, chunk = read_images([str(tmp_path / "big.jpg"), str(tmp_path / "good.jpg")], "auto")
    assert isinstance(failure, Failure) and failure.reason.startswith("needs more memory to decode")
    assert isinstance(chunk, Chunk) and chunk.sources == [str(tmp_path / "good.jpg")]


def test_a_glob_that_matches_folders_searches_them(tmp_path, model_path, capsys):
    for name in ("shots-a", "shots-b"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / name / "x.png")
    assert predict(model_path, f"{tmp_path}/shots-*", "--output", tmp_path / "o.csv") == 0
    assert [r["source"] for r in rows(tmp_path / "o.csv")] == [
        str(tmp_path / n / "x.png") for n in ("shots-a", "shots-b")
    ]


def test_32_bit_images_scale_from_their_own_range(tmp_path):
    full = Image.fromarray(np.full((28, 28), 2**31 - 1, np.int32), "I")  # 32-bit white
    full.save(tmp_path / "full.tif")
    assert load_image(tmp_path / "full.tif", "off")[0][5, 5] == 255
    half = Image.fromarray(np.full((28, 28), 2**30, np.int32), "I")
    half.save(tmp_path / "half.tif")
    assert load_image(tmp_path / "half.tif", "off")[0][5, 5] == 128
    sixteen = Image.fromarray(np.full((28, 28), 32896, np.int32), "I")  # 16-bit values in a 32-bit image
    sixteen.save(tmp_path / "sixteen.tif")
    assert load_image(tmp_path / "sixteen.tif", "off")[0][5, 5] == 128


def test_a_watched_run_shows_a_progress_bar_with_the_total(tmp_path, model_path, capsys, monkeypatch):
    paths = make_inputs(tmp_path / "in")
    (paths["arrays"] / "junk.npy").write_bytes(b"junk")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    elsewhere = tqdm(total=1, file=io.StringIO())  # a bar left open in this process: ours still comes first
    code = predict(model_path, paths["folder"], paths["arrays"] / "u8.npy", paths["arrays"] / "junk.npy",
                   paths["arrays"] / "t-idx3-ubyte.gz", "--batch-size", "4", "--output", tmp_path / "o.csv")  # fmt: skip
    elsewhere.close()
    err = capsys.readouterr().err
    total = 6 + 5 + 4  # six image files, an array of 5, an IDX file of 4; the junk file counts 0
    assert code == 1 and len(rows(tmp_path / "o.csv")) == total
    updates = [u for u in err.split("\r") if "%|" in u]  # tqdm's bar, redrawn in place
    assert updates and all(u.startswith("predict.py:") and f"/{total} [" in u for u in updates)
    assert f"100%|██████████| {total}/{total} [" in updates[-1] and "1 failed" in updates[-1]
    assert "\npredict.py: " + str(paths["arrays"] / "junk.npy") + ": " in "\n" + err.replace("\r", "\n")


@pytest.mark.parametrize(("signum", "existing"), [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_a_signal_mid_run_leaves_the_output_alone(tmp_path, model_path, signum, existing):
    big = tmp_path / "big.npy"  # 2 million zero images, sparse on disk: a long run
    big.write_bytes(npy_declaring((2_000_000, 28, 28)))
    with open(big, "r+b") as f:
        f.truncate(big.stat().st_size + 2_000_000 * 784)
    out = tmp_path / "out.csv"
    if existing:
        out.write_text("an earlier table\n")
    run = subprocess.Popen([sys.executable, "scripts/predict.py", "--model", str(model_path), str(big), "--output",
                            str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.csv.*.part")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the partial file appears once predicting has begun
    time.sleep(0.3)
    run.send_signal(signum)
    _, err = run.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert run.returncode == 130 and len(lines) == 1, err
    assert lines[0] == f"predict.py: stopped by {signum.name}; --output {out} was not written."
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    assert out.read_text() == "an earlier table\n" if existing else not out.exists()


def test_what_cannot_be_read_is_said_so(model_path):
    """A folder that cannot be listed is a failure beside the rest; a --labels file that cannot be read, a
    refusal. As root no permission stops a read, so the command runs as nobody there."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if as_nobody and not shutil.which("setpriv"):
        pytest.skip("needs setpriv to drop root")
    top = Path(tempfile.mkdtemp())
    command = [*as_nobody, sys.executable, "scripts/predict.py", "--model", str(top / "m.onnx"), str(top)]
    try:
        top.chmod(0o755)
        (top / "home").mkdir()
        (top / "home").chmod(0o777)  # onnxruntime warns at import when it cannot write under $HOME
        shutil.copy(model_path, top / "m.onnx")
        (top / "locked").mkdir()
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(top / "good.png")
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(top / "locked" / "hidden.png")
        (top / "labels.csv").write_text("good.png,1\n")
        for path in (top / "locked", top / "labels.csv"):
            path.chmod(0)
        env = {**os.environ, "HOME": str(top / "home")}
        listed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        labelled = subprocess.run([*command, "--labels", str(top / "labels.csv")], cwd=ROOT, env=env,
                                  capture_output=True, text=True)  # fmt: skip
    finally:
        (top / "locked").chmod(0o755)
        shutil.rmtree(top)
    assert listed.returncode == 1 and "Traceback" not in listed.stderr, listed.stderr
    assert f"predict.py: {top / 'locked'}: cannot be listed (Permission denied)" in listed.stderr
    assert [r.split(",")[0] for r in listed.stdout.splitlines()] == ["source", str(top / "good.png")]
    assert labelled.returncode == 2 and labelled.stdout == "", labelled.stderr
    said = f"predict.py: error: --labels {top / 'labels.csv'} cannot be read (Permission denied).\n"
    assert labelled.stderr == said


def test_a_thin_image_is_refused_without_being_padded_at_full_size(tmp_path):
    """A 1×60000 PNG is 196 bytes; padded to a square before resizing it would take 3.6 GB. In 28×28 its
    narrow side would be under a pixel, so it is refused, having cost no more memory than its pixels."""
    Image.new("L", (1, 60000), 255).save(tmp_path / "thin.png")
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the peak memory from /proc/self/status (Linux)")
    # VmHWM: this process's peak resident memory (ru_maxrss would include pytest's, from before the exec).
    code = ("import re, sys; from pixelsense.infer.images import read_images; print(read_images(sys.argv[1:], 'auto')[0].reason); "
            "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read())[1])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, tmp_path / "thin.png"], capture_output=True, text=True)
    reason, peak_kb = done.stdout.splitlines()
    assert reason.startswith("is over 28 times as long as wide") and int(peak_kb) < 300_000, done.stdout


def test_the_loop_safe_glob_matches_glob(tmp_path, monkeypatch):
    for name in ("a/x.png", "a/b/y.png", "a/.hidden/z.png", "a/.h.png", "c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    monkeypatch.chdir(tmp_path)
    for pattern in ("**/*.png", "a/**", "a/**/*.png", "*/**/y.png", "**", "a/.*/**", "**/b", f"{tmp_path}/**"):  # fmt: skip
        expected = [p for p in glob.glob(pattern, recursive=True) if not p.endswith("/")]  # a/** gives a/ too
        assert sorted(map(str, _glob(pattern))) == sorted(expected), pattern


def test_link_loops_end_and_each_file_comes_once_by_its_shortest_path(tmp_path):
    for name in ("s/x.png", "s/sub/y.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    for i in range(6):  # as many loops as glob.glob(recursive=True) would multiply beyond any patience
        (tmp_path / "s" / f"here{i}").symlink_to(".")
        (tmp_path / "s" / "sub" / f"up{i}").symlink_to("..")
    start = time.perf_counter()
    for arg in ("s", "s/**", "s/**/*.png", "s/*"):
        assert expand([f"{tmp_path}/{arg}"]) == [tmp_path / "s/sub/y.png", tmp_path / "s/x.png"], arg
    assert time.perf_counter() - start < 5


def test_an_output_is_compared_with_the_inputs_by_identity(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.npy").write_bytes(b"x")
    for output in ("a.npy", "sub/../a.npy", tmp_path / "a.npy", "./a.npy"):
        with pytest.raises(OutputIsInput, match=r"^--out .*a\.npy is the --ckpt file"):
            check_not_input(output, [tmp_path / "a.npy"], "--out", "the --ckpt file")
    with pytest.raises(OutputIsInput):  # not written yet, but named as an input too
        check_not_input("sub/new.csv", [tmp_path / "sub" / "new.csv"], "--output")
    check_not_input("b.npy", ["a.npy", "missing.npy"], "--output")  # others: no complaint


def test_a_model_that_fails_at_run_time_is_one_line_here_and_in_evaluate(tmp_path, capfd):
    from pixelsense.infer.engine import ModelError
    from pixelsense.study.evaluate import onnx_predictor

    onnx_model(tmp_path / "fixed.onnx", batch=1)  # a Reshape to [1, 784]: loads, but fails on 3 images
    np.save(tmp_path / "a.npy", np.zeros((1, 28, 28), np.uint8))
    assert main(["--model", str(tmp_path / "fixed.onnx"), str(tmp_path / "a.npy")]) == 2
    err = capfd.readouterr().err  # onnxruntime's own log would go straight to the file descriptor
    assert err.count("\n") == 1 and "fixed.onnx fails on a trial batch of 3 images" in err
    with pytest.raises(ModelError, match="fails on a trial batch"):
        onnx_predictor(tmp_path / "fixed.onnx")
    onnx_model(tmp_path / "good.onnx")  # the builder itself makes a model that works
    assert main(["--model", str(tmp_path / "good.onnx"), str(tmp_path / "a.npy")]) == 0


def test_a_closed_stdout_is_one_line_unless_there_is_an_output_file(
    tmp_path, model_path, capsys, monkeypatch
):
    np.save(tmp_path / "a.npy", np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setattr(sys, "stdout", None)  # what Python has when started with stdout closed (>&-)
    assert predict(model_path, tmp_path / "a.npy") == 2
    assert "stdout is closed, so the rows have nowhere to go; pass --output FILE." in capsys.readouterr().err
    assert predict(model_path, tmp_path / "a.npy", "--output", tmp_path / "o.csv") == 0
    assert len(rows(tmp_path / "o.csv")) == 2


def test_output_dash_is_stdout(tmp_path, model_path, capsys, monkeypatch):
    np.save(tmp_path / "a.npy", np.zeros((2, 28, 28), np.uint8))
    monkeypatch.chdir(tmp_path)
    assert predict(model_path, tmp_path / "a.npy", "--output", "-") == 0
    assert capsys.readouterr().out.count("\n") == 3 and not (tmp_path / "-").exists()  # header and 2 rows


def test_a_reader_that_stops_reading_stops_predict_quietly(tmp_path, model_path):
    """``predict.py ... | head -2``: once the pipe closes, predict.py stops as Unix tools do, with no message
    and no traceback, exit 141 (128 + SIGPIPE); the reader got whole rows."""
    np.save(tmp_path / "many.npy", np.zeros((100_000, 28, 28), np.uint8))
    script = ROOT / "scripts" / "predict.py"
    shell = f"'{sys.executable}' '{script}' --model '{model_path}' '{tmp_path / 'many.npy'}' | head -2"
    done = subprocess.run(["bash", "-c", f"{shell}; echo rc=${{PIPESTATUS[0]}} >&2"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.stdout.splitlines()[0].startswith("source,label") and len(done.stdout.splitlines()) == 2
    assert done.stderr.strip() == "rc=141", done.stderr
