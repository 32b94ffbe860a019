"""Photos converted the way Fashion-MNIST was made (pixelsense.infer.photo), and the decoding pool, on synthetic
garments and photos written in a temp dir: both polarities, dataset-form inputs unchanged bit for bit, the
same rows whatever the number of workers, and every bad-input promise kept with workers."""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsense.cli import predict_main
from pixelsense.infer import decoding, engine, jpeg, predict
from pixelsense.infer import photo as photo_module
from pixelsense.infer.decoding import TASK, Decoder, cores
from pixelsense.infer.images import MAX_PIXELS, load_image, read_images, read_uploads
from pixelsense.infer.inputs import read_all
from pixelsense.paths import Failure, expand
from pixelsense.study.photosets import STYLES, encode, photo

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "checkpoints" / "cnn.onnx"


def garment(seed: int) -> np.ndarray:
    """A made-up top, light on black and as tall as the frame, as the data set's pictures are: a body,
    two sleeves and some texture."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28), np.float64)
    image[:, 7:21] = 1.0
    image[1:9, 1:7] = image[1:9, 21:27] = 0.8
    texture = rng.uniform(120, 160) + 80 * np.linspace(0, 1, 28)[:, None]  # shaded from top to bottom
    return (image * texture).round().astype(np.uint8)


def as_photo(tmp_path: Path, item: np.ndarray, style: str, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path = tmp_path / f"{style}-{seed}.{'jpg' if STYLES[style].format == 'jpeg' else 'png'}"
    path.write_bytes(encode(photo(item, STYLES[style], rng), STYLES[style], rng))
    return path


@pytest.mark.parametrize(
    ("style", "polarity"),
    [("product-png", "dark-on-light"), ("product-jpeg", "dark-on-light"), ("product-gradient", "dark-on-light"),
     ("product-tight", "dark-on-light"), ("dataset-large", "light-on-dark"),
     ("dataset-dark-gray", "light-on-dark")],
)  # fmt: skip
def test_a_photo_of_either_polarity_becomes_its_garment_again(tmp_path, style, polarity):
    for seed in range(3):
        item = garment(seed)
        image, used = load_image(as_photo(tmp_path, item, style, seed))
        assert used == polarity
        # background black, garment trimmed to the frame and centered: close to the picture it was made from
        assert np.corrcoef(image.ravel().astype(float), item.ravel())[0, 1] > 0.85, style
        assert np.abs(image.astype(int) - item).mean() < 20, style
        assert image[12:, :5].mean() < 20 and image[12:, -5:].mean() < 20  # under the sleeves: black


def test_invert_forces_the_polarity(tmp_path):
    dark_on_light = as_photo(tmp_path, garment(0), "product-png")
    assert load_image(dark_on_light, "off")[1] == "light-on-dark"
    assert load_image(dark_on_light, "on")[1] == "dark-on-light"
    light_on_dark = as_photo(tmp_path, garment(0), "dataset-large")
    assert load_image(light_on_dark, "on")[1] == "dark-on-light"


@pytest.mark.parametrize("side", [2, 7, 8, 9, 63, 64])
def test_the_garments_box_is_the_box_around_its_2x2_blocks(side):
    """The box the conversion trims to, found with each mask row as a 64-bit word, is the box around the
    mask's whole 2×2 blocks, found pixel by pixel; lone pixels and single lines are not the garment."""
    rng = np.random.default_rng(side)
    masks = rng.random((300, side, side)) < rng.uniform(0.0, 0.3, (300, 1, 1))  # sparse: few whole blocks
    masks[:100, side // 4 : side // 2 + 1, side // 3 : side - 1] = True
    masks[5] = False
    masks[6, side // 2, :] = masks[6, :, side // 3] = True  # lines, no block
    for mask, box in zip(masks, photo_module._boxes(masks), strict=True):
        blocks = mask[:-1, :-1] & mask[1:, :-1] & mask[:-1, 1:] & mask[1:, 1:]
        rows, cols = np.nonzero(blocks.any(1))[0], np.nonzero(blocks.any(0))[0]
        want = (cols[0], rows[0], cols[-1] + 2, rows[-1] + 2) if len(rows) else (0, 0, side, side)
        assert tuple(box * side) == want


def test_libjpeg_turbo_reads_plain_jpegs_as_pillow_does(tmp_path, monkeypatch):
    """Plain JPEGs of every size in the photo sets take the fast path and give Pillow's pixels exactly;
    those it leaves to Pillow (CMYK, EXIF, not a JPEG, cut short) are still read, or refused, by Pillow."""
    styles = ("product-jpeg", "product-large", "dataset-dark-gray", "product-gradient")
    plain = [as_photo(tmp_path, garment(seed), style, seed) for seed in range(3) for style in styles]
    plain += [tmp_path / f"{side}.jpg" for side in (20, 100, 150, 300)]  # each DCT scale, and none
    for side in (20, 100, 150, 300):
        Image.fromarray(255 - garment(side)).resize((side, side)).save(tmp_path / f"{side}.jpg")
    for size in (jpeg.READ - 1, jpeg.READ, jpeg.READ + 1):  # read in one call, or in more
        data = plain[0].read_bytes()
        plain.append(tmp_path / f"padded-{size}.jpg")
        plain[-1].write_bytes(data + bytes(size - len(data)))  # zeros after the end-of-image marker
    noise = np.random.default_rng(0).integers(0, 256, (400, 400), np.uint8)
    Image.fromarray(noise).save(tmp_path / "large.jpg", quality=95)  # its scan spans several reads
    assert (tmp_path / "large.jpg").stat().st_size > 2 * jpeg.READ
    plain.append(tmp_path / "large.jpg")
    first = Image.open(plain[0]).convert("RGB")  # an MPO without EXIF (Pillow writes such): its first picture
    first.save(tmp_path / "two.jpg", format="MPO", save_all=True, append_images=[first.rotate(90)])
    plain.append(tmp_path / "two.jpg")
    assert all(jpeg.decode(path, MAX_PIXELS) is not None for path in plain)
    Image.open(plain[0]).convert("CMYK").save(tmp_path / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 3  # upside down
    Image.open(plain[0]).save(tmp_path / "exif.jpg", exif=exif)
    (tmp_path / "cut.jpg").write_bytes(plain[0].read_bytes()[:400])
    others = [tmp_path / name for name in ("cmyk.jpg", "exif.jpg", "cut.jpg")] + [
        as_photo(tmp_path, garment(0), "product-png")
    ]
    assert all(jpeg.decode(path, MAX_PIXELS) is None for path in others)
    assert all(load_image(path)[0].any() for path in others[:2])  # Pillow reads the CMYK and EXIF ones
    fast = [load_image(path) for path in plain]
    monkeypatch.setattr(jpeg, "simplejpeg", None)  # an install without it: Pillow decodes every JPEG
    slow = [load_image(path) for path in plain]
    for (image, polarity), (pillow, its) in zip(fast, slow, strict=True):
        assert np.array_equal(image, pillow) and polarity == its


def test_a_jpeg_over_most_bytes_goes_to_pillow_unread(tmp_path, monkeypatch):
    """A JPEG followed by gigabytes of zeros (a sparse file here) is not read whole into memory: the fast
    path stops at about jpeg.MOST bytes, and Pillow reads it in blocks up to the end of its image."""
    Image.fromarray(garment(0)).save(tmp_path / "small.jpg")
    (tmp_path / "padded.jpg").write_bytes((tmp_path / "small.jpg").read_bytes())
    os.truncate(tmp_path / "padded.jpg", 4 * jpeg.MOST)
    real, read = os.read, []
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or real(fd, n))
    assert jpeg.decode(tmp_path / "padded.jpg", MAX_PIXELS) is None
    assert sum(read) <= jpeg.MOST + 16 * jpeg.READ  # what was asked for: a bound on what was read
    monkeypatch.undo()
    assert np.array_equal(load_image(tmp_path / "padded.jpg")[0], load_image(tmp_path / "small.jpg")[0])


def dataset_inputs(folder: Path, items: np.ndarray) -> dict[str, Path]:
    folder.mkdir()
    np.save(folder / "items.npy", items)
    idx = struct.pack(">IIII", 0x803, len(items), 28, 28) + items.tobytes()
    (folder / "items-idx3-ubyte").write_bytes(idx)
    (folder / "items-idx3-ubyte.gz").write_bytes(gzip.compress(idx))
    for i, item in enumerate(items):
        Image.fromarray(item).save(folder / f"{i}.png")
    return {
        "npy": folder / "items.npy",
        "idx": folder / "items-idx3-ubyte",
        "gz": folder / "items-idx3-ubyte.gz",
    }


def read(paths: list, invert: str = "auto", workers: int = 1) -> tuple[np.ndarray, list[str]]:
    with Decoder(invert, workers) as decode:
        chunks = list(read_all(expand([str(p) for p in paths]), 64, decode))
    return np.concatenate([c.images for c in chunks]), [p for c in chunks for p in c.polarities]


def test_dataset_form_inputs_are_unchanged_bit_for_bit(tmp_path):
    items = np.stack([garment(seed) for seed in range(5)])
    inputs = dataset_inputs(tmp_path / "in", items)
    for kind, path in inputs.items():
        images, polarities = read([path])
        assert np.array_equal(images, items) and set(polarities) == {"light-on-dark"}, kind
    pngs = sorted((tmp_path / "in").glob("*.png"))
    images, polarities = read(pngs)
    assert np.array_equal(images, items) and set(polarities) == {"light-on-dark"}
    Image.fromarray(255 - items[0]).save(tmp_path / "negative.png")  # a 28×28 dark garment on white
    images, polarities = read([tmp_path / "negative.png"])
    assert np.array_equal(images[0], items[0]) and polarities == ["dark-on-light"]
    assert np.array_equal(read([inputs["npy"]], invert="on")[0], items)  # arrays are never inverted


PHOTOS = 2 * TASK + 16  # in mixed_folder


def mixed_folder(folder: Path) -> Path:
    """Photos of both polarities and sizes, enough for three of a worker's tasks, and two bad files among
    them: in name order, one in the first task and one in the second."""
    folder.mkdir()
    styles = ("product-jpeg", "dataset-large", "product-tight", "dataset-dark-gray")
    for i in range(PHOTOS):
        as_photo(folder, garment(i), styles[i % 4], seed=i)
    (folder / "cut-product-jpeg-5.jpg").write_bytes((folder / "product-jpeg-4.jpg").read_bytes()[:300])
    (folder / "empty.png").write_bytes(b"")
    return folder


def failing_in_workers(monkeypatch) -> None:
    """onnxruntime fails in the decoding workers (processes other than this one) and nowhere else."""
    real, main = engine.session, os.getpid()

    def session(path, provider, threads, spin):
        if os.getpid() != main:
            raise RuntimeError("this worker's onnxruntime fails")
        return real(path, provider, threads, spin)

    monkeypatch.setattr(engine, "session", session)  # the workers are forked from here: theirs too


@pytest.mark.skipif(cores() < 2, reason="needs 2 cores to run 2 workers")
@pytest.mark.parametrize(
    "workers_predict",
    [
        True,
        pytest.param(
            False, marks=pytest.mark.skipif(sys.platform != "linux", reason="reaches workers by fork")
        ),
    ],
)
def test_the_number_of_workers_does_not_change_the_rows(tmp_path, capsys, monkeypatch, workers_predict):
    """Photos between two arrays: the same rows in the order given, whether the workers predict what they
    decode or, their onnxruntime failing, leave it to the main process."""
    folder = mixed_folder(tmp_path / "photos")
    arrays = dataset_inputs(tmp_path / "in", np.stack([garment(seed) for seed in range(5)]))
    if not workers_predict:
        failing_in_workers(monkeypatch)
    batches = []  # the batches the main process runs onnxruntime on
    run = predict._run
    monkeypatch.setattr(
        predict, "_run", lambda session, item, model: batches.append(item) or run(session, item, model)
    )
    tasks = tmp_path / "tasks"  # the pid of the process that read each task (the workers are forked: theirs)
    read_images = decoding.read_images

    def logged(*args):
        with tasks.open("a") as log:
            log.write(f"{os.getpid()}\n")
        return read_images(*args)

    monkeypatch.setattr(decoding, "read_images", logged)
    inputs = [str(arrays["npy"]), str(folder), str(arrays["idx"])]
    outputs = {}
    for workers in (1, 2):
        batches.clear()
        tasks.write_text("")
        out = tmp_path / f"w{workers}.csv"
        assert (
            predict_main(["--model", str(MODEL), *inputs, "--output", str(out), "--workers", str(workers)])
            == 1
        )
        err = capsys.readouterr().err
        bad = [line for line in err.splitlines() if line.startswith("predict.py: /")]
        assert len(bad) == 2 and "Traceback" not in err
        outputs[workers] = (out.read_bytes(), bad)
        runners = set(tasks.read_text().split())
        assert runners == {str(os.getpid())} if workers == 1 else runners and str(os.getpid()) not in runners
    assert outputs[1] == outputs[2]
    rows = [
        row.split(",")[0] for row in outputs[1][0].decode().splitlines()[1:]
    ]  # the header, then each image
    assert rows[:5] == [f"{arrays['npy']}:{i}" for i in range(5)] and rows[-5:] == [
        f"{arrays['idx']}:{i}" for i in range(5)
    ]
    assert len(rows) == 5 + PHOTOS + 5 and all(Path(row).parent == folder for row in rows[5:-5])
    assert (
        len(batches) == 2
    ) == workers_predict  # with workers predicting, the main process runs the arrays only


@pytest.mark.parametrize("invert", ["auto", "on"])
def test_files_held_in_memory_become_the_same_pictures_as_on_disk(tmp_path, invert):
    """What the server does with an upload (never written to disk) is what predict.py does with the file,
    JPEGs on libjpeg-turbo's path and Pillow's alike; two uploads of one name keep their own results."""
    folder = mixed_folder(tmp_path / "photos")
    (folder / "exif.jpg").write_bytes(encode(photo(garment(3), STYLES["product-jpeg"], np.random.default_rng(1)),
                                             STYLES["product-jpeg"], np.random.default_rng(1)))  # fmt: skip
    paths = sorted(str(p) for p in folder.iterdir())
    on_disk = read_images(paths, invert)
    in_memory = read_uploads([(Path(p).name, Path(p).read_bytes()) for p in paths], invert)
    assert [type(item) for item in on_disk] == [type(item) for item in in_memory]
    for disk, memory in zip(on_disk, in_memory, strict=True):
        if isinstance(disk, Failure):
            named = disk.reason.replace(disk.source, memory.source)  # Pillow names what it could not read
            assert (Path(disk.source).name, named) == (memory.source, memory.reason)
        else:
            assert [Path(s).name for s in disk.sources] == memory.sources
            assert np.array_equal(disk.images, memory.images) and disk.polarities == memory.polarities
    good, bad = (folder / "product-jpeg-4.jpg").read_bytes(), b"not an image"
    twins = read_uploads([("blob", good), ("blob", bad), ("blob", good)], invert)
    assert [type(item).__name__ for item in twins] == ["Chunk", "Failure", "Chunk"]
    assert np.array_equal(twins[0].images, twins[2].images)
