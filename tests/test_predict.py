"""scripts/predict.py: onnxruntime batch inference over every input kind, with clear per-input errors."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import idx_bytes
from PIL import Image

from pixelsense.export import export
from pixelsense.inputs import load_image
from pixelsense.module import Classifier
from pixelsense.predict import main

ROOT = Path(__file__).resolve().parents[1]
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
                            "top2_confidence", "top3_label", "top3_class", "top3_confidence"]  # fmt: skip
    assert all(
        float(r["confidence"]) >= float(r["top2_confidence"]) >= float(r["top3_confidence"]) for r in got
    )
    assert "27 images done, 0 failed" in capsys.readouterr().err


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
    assert load_image(saved(deep, "deep.png"))[0, 0] == 128  # scaled, not clipped to 255
    clear = Image.fromarray(np.full((28, 28, 4), [255, 255, 255, 0], np.uint8), "RGBA")
    assert load_image(saved(clear, "clear.png")).max() == 0  # transparent flattens to the black background
    light = Image.fromarray(np.full((56, 56), 255, np.uint8))
    assert load_image(saved(light, "light.png"), invert=True).max() == 0
    wide = Image.fromarray(np.full((10, 40), 255, np.uint8))
    small = load_image(saved(wide, "wide.png"))
    assert small.shape == (28, 28) and small[0].max() < 30 and small[14].min() > 200  # padded, not stretched


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
                   "no such file"]:  # fmt: skip
        assert reason in err
    sources = [r["source"] for r in rows(out)]
    assert sources[-3:] == [f"{good}:{i}" for i in range(3)]
    assert not any(s.startswith(str(tmp_path / "cut-idx3-ubyte")) for s in sources)  # checked before any row


@pytest.mark.parametrize(
    "args",
    [[], ["{empty}"], ["{empty}/*.png"], ["--model-override", "README"]],
)
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


@pytest.mark.parametrize("kind", ["idx", "npy", "csv"])
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
    else:
        labels.write_text("".join(f"{tmp_path / 'x.npy'}:{i},{t}\n" for i, t in enumerate(truth)))
    capsys.readouterr()
    assert predict(model_path, tmp_path / "x.npy", "--labels", labels, "--output", tmp_path / "p.csv") == 0
    assert "accuracy: 0.7500 (20 labelled images)" in capsys.readouterr().out


def test_predict_never_imports_torch(tmp_path, model_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 28, 28), np.uint8))
    code = (
        "import sys; from pixelsense.predict import main; "
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
    assert predict(model_path, *(tmp_path / n for n in names), "--output", out) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "zero.npy: is empty" in err
    assert err.count("holds no images") == 2 and "crc-idx3-ubyte.gz: cannot be read" in err
    assert out.read_text() == "source,label,class,confidence\n"  # a header even with no rows


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--topk", "11"], ["--threads", "-1"]])
def test_bad_options_are_refused(tmp_path, model_path, args, capsys):
    np.save(tmp_path / "a.npy", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(SystemExit) as done:
        predict(model_path, tmp_path / "a.npy", *args)
    assert done.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_a_model_with_a_frozen_batch_is_refused(tmp_path, capsys):
    from pixelsense.export import Deployable

    model = Deployable(Classifier(arch="ann", hidden=(8,)).net).eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28, dtype=torch.uint8),), tmp_path / "fixed.onnx",
                      input_names=["images"], output_names=["logits", "probabilities"], dynamo=True)  # fmt: skip
    np.save(tmp_path / "a.npy", np.zeros((3, 28, 28), np.uint8))
    assert main(["--model", str(tmp_path / "fixed.onnx"), str(tmp_path / "a.npy")]) == 2
    assert "is not a pixelsense model" in capsys.readouterr().err


def test_labels_that_do_not_fit_are_said_so(tmp_path, model_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    np.save(tmp_path / "short.npy", np.array([1, 2]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "short.npy") == 0
    captured = capsys.readouterr()
    assert "not computed: 2 labels for 4 predictions" in captured.err and "accuracy:" not in captured.out
    np.save(tmp_path / "wild.npy", np.array([3, 40, 1, 2]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "wild.npy") == 2
    assert "holds no labels in 0–9" in capsys.readouterr().err


def test_accuracy_stays_off_a_table_on_stdout(tmp_path, model_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    assert predict(model_path, tmp_path / "x.npy", "--labels", tmp_path / "y.npy") == 0
    captured = capsys.readouterr()
    assert "accuracy: " not in captured.out and "accuracy: " in captured.err
    assert len(captured.out.strip().splitlines()) == 5  # header + 4 rows


def test_float_and_rotated_images(tmp_path):
    Image.fromarray(np.full((28, 28), 0.5, np.float32)).save(tmp_path / "float.tif")
    assert load_image(tmp_path / "float.tif")[5, 5] == 128
    tall = np.zeros((40, 20), np.uint8)
    tall[:, :10] = 255  # left half white
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    shown = load_image(tmp_path / "rotated.jpg")
    assert shown[8:13, 4:24].mean() > 200 and shown[15:20, 4:24].mean() < 50  # white on top once upright


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
    assert load_image(tmp_path / "full.tif")[5, 5] == 255
    half = Image.fromarray(np.full((28, 28), 2**30, np.int32), "I")
    half.save(tmp_path / "half.tif")
    assert load_image(tmp_path / "half.tif")[5, 5] == 128
    sixteen = Image.fromarray(np.full((28, 28), 32896, np.int32), "I")  # 16-bit values in a 32-bit image
    sixteen.save(tmp_path / "sixteen.tif")
    assert load_image(tmp_path / "sixteen.tif")[5, 5] == 128


def test_a_watched_run_shows_a_progress_bar_with_the_total(tmp_path, model_path, capsys, monkeypatch):
    paths = make_inputs(tmp_path / "in")
    (paths["arrays"] / "junk.npy").write_bytes(b"junk")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code = predict(model_path, paths["folder"], paths["arrays"] / "u8.npy", paths["arrays"] / "junk.npy",
                   paths["arrays"] / "t-idx3-ubyte.gz", "--batch-size", "4", "--output", tmp_path / "o.csv")  # fmt: skip
    err = capsys.readouterr().err
    total = 6 + 5 + 4  # six image files, an array of 5, an IDX file of 4; the junk file counts 0
    assert code == 1 and len(rows(tmp_path / "o.csv")) == total
    updates = [u for u in err.split("\r") if "%" in u]
    assert len(updates) >= 4 and all(f"/{total} images" in u for u in updates)
    assert updates[0].startswith("predict.py:") and "100% |" + "█" * 24 + "|" in updates[-1]
    assert "1 failed" in updates[-1] and "\x1b[Kpredict.py: " + str(paths["arrays"] / "junk.npy") in err
