"""onnxruntime sessions of pixelsense models (no torch): opened and checked as every command opens one
(``open_model``), and run in predict.py's main process and its decoding workers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pixelsense.constants import IMAGE_SIZE, NUM_CLASSES
from pixelsense.errors import PixelsenseError, first_line
from pixelsense.infer.chunk import Chunk
from pixelsense.paths import Failure, not_regular

RUN = 16  # images per onnxruntime call in a worker: its first runs touch ~700 new pages (64: ~4,900)
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
OUTPUTS = ("logits", "probabilities")  # what a pixelsense export returns, exactly
TRIAL = 3  # images in the batch every model must predict when it is opened, before any input is read
_SESSIONS: dict[str, object] = {}  # a decoding worker's session per model, from its first task (None: failed)


def session(path: str, provider: str, threads: int | None, spin: bool):
    """An onnxruntime session that logs nothing (errors come back as exceptions). ``spin``: its threads
    wait for work busily (faster when nothing else needs the cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(path, options, providers=[PROVIDERS[provider]])


class ModelError(PixelsenseError):
    """The model cannot be used; the message says why."""


def open_model(path: str, provider: str, threads: int | None, spin: bool = True):
    """An onnxruntime session for a pixelsense export, and its class names; ModelError unless it loads,
    has the interface of an export and predicts a trial batch of the right shape. ``spin``: onnxruntime's
    threads spin between batches (faster when nothing else needs the cores)."""
    import onnxruntime as ort

    if problem := not_regular(Path(path)):  # onnxruntime would wait forever on a FIFO
        raise ModelError(f"{path} {problem}; pass a .onnx file exported by scripts/export.py.")
    if PROVIDERS[provider] not in ort.get_available_providers():
        raise ModelError(f"the {provider} provider is not available in this onnxruntime "
                         f"({', '.join(ort.get_available_providers())}); use --provider cpu or install "
                         "onnxruntime-gpu.")  # fmt: skip
    try:
        opened = session(path, provider, threads, spin)
    except Exception as err:  # onnxruntime reports missing and broken files alike
        raise ModelError(f"{path} cannot be loaded as an ONNX model ({first_line(err)}).") from None
    if opened.get_providers()[0] != PROVIDERS[provider]:  # onnxruntime falls back silently otherwise
        raise ModelError(f"the {provider} provider failed to start; use --provider cpu.")
    inputs, outputs = opened.get_inputs(), [o.name for o in opened.get_outputs()]
    shape = list(inputs[0].shape) if inputs else []
    ok = len(inputs) == 1 and inputs[0].type == "tensor(uint8)" and shape[1:] == [1, IMAGE_SIZE, IMAGE_SIZE]
    ok = ok and not isinstance(shape[0], int)  # a dynamic batch dimension
    try:
        classes = json.loads(opened.get_modelmeta().custom_metadata_map.get("classes", "[]"))
    except ValueError:
        classes = []
    ok = ok and inputs[0].name == "images" and sorted(outputs) == list(OUTPUTS)
    names = isinstance(classes, list) and all(isinstance(name, str) for name in classes)
    if not ok or not names or len(classes) != NUM_CLASSES:
        raise ModelError(f"{path} is not a pixelsense model (uint8 'images' [N, 1, 28, 28] in, 'logits' and "
                         "'probabilities' out, class names in its metadata); export one with "
                         "scripts/export.py.")  # fmt: skip
    _trial(opened, path)
    return opened, classes


def _trial(session, path: str) -> None:
    """Predict a small batch now: a model with the right interface can still fail at run time (a fixed
    reshape) or give the wrong number of classes, and that must be said before any input is read."""
    images = np.linspace(0, 255, TRIAL * IMAGE_SIZE**2).astype(np.uint8).reshape(TRIAL, 1, IMAGE_SIZE, -1)
    try:
        results = dict(zip(OUTPUTS, session.run(list(OUTPUTS), {"images": images}), strict=True))
    except Exception as err:  # onnxruntime's errors share no base class
        raise ModelError(f"{path} fails on a trial batch of {TRIAL} images ({first_line(err)}); export it "
                         "again with scripts/export.py.") from None  # fmt: skip
    for name, result in results.items():
        if np.shape(result) != (TRIAL, NUM_CLASSES):
            raise ModelError(f"{path} gives '{name}' of shape {np.shape(result)} for {TRIAL} images, not "
                             f"({TRIAL}, {NUM_CLASSES}): not a model of the {NUM_CLASSES} Fashion-MNIST "
                             "classes; export one with scripts/export.py.")  # fmt: skip
    sums = np.asarray(results["probabilities"], dtype=np.float64).sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):  # NaN fails too
        raise ModelError(f"{path} gives 'probabilities' that sum to {sums.round(4).tolist()}, not 1; "
                         "export it again with scripts/export.py.")  # fmt: skip


def probabilities(session, images: np.ndarray, model: str, source: str) -> np.ndarray:
    """The probabilities a model gives ``images`` (uint8 [N, 28, 28]), as every command runs one; ModelError
    naming the model and the batch (from ``source``) if onnxruntime fails on it. The trial batch passed, so
    this is the model's fault on this batch, not the images'."""
    what = "the image" if len(images) == 1 else f"the {len(images)} images"
    try:
        found = session.run(["probabilities"], {"images": images[:, None]})[0]
    except Exception as err:  # onnxruntime's errors share no base class
        reason = first_line(err)
        hint = "; try a smaller --batch-size" if "allocate" in reason.lower() else ""
        raise ModelError(f"{model} failed on {what} from {source} ({reason}){hint}.") from None
    if np.shape(found) != (len(images), NUM_CLASSES):  # right for the trial batch, wrong for this one
        shape = np.shape(found)
        raise ModelError(f"{model} gives probabilities of shape {shape} for {what} from {source}, not "
                         f"({len(images)}, {NUM_CLASSES}); export it again.")  # fmt: skip
    return found


def unpredicted(probabilities: np.ndarray) -> np.ndarray:
    """Which rows hold no probabilities: NaN or infinite anywhere (a model that breaks on some pictures)."""
    return ~np.isfinite(probabilities).all(axis=1)


def worker_session(model: str):
    """A decoding worker's CPU session for ``model``, on one thread (the workers share the cores), opened on
    first use; None where it cannot be opened (then not tried again for every task)."""
    if model not in _SESSIONS:
        try:
            _SESSIONS[model] = session(model, "cpu", threads=1, spin=False)
        except Exception:  # onnxruntime's errors share no base class
            _SESSIONS[model] = None
    return _SESSIONS[model]


def predict_in_worker(items: list[Chunk | Failure], model: str) -> list[Chunk | Failure]:
    """The worker's Chunks with their probabilities. Where onnxruntime fails, the Chunks go back without
    them: the main process predicts them, and says what is wrong if it fails too (the model passed its
    trial batch there)."""
    if (predictor := worker_session(model)) is None:
        return items
    chunks = [item for item in items if isinstance(item, Chunk)]
    try:
        for chunk in chunks:
            images = chunk.images[:, None]
            chunk.probabilities = np.concatenate([
                predictor.run(["probabilities"], {"images": images[start : start + RUN]})[0]
                for start in range(0, len(images), RUN)
            ])  # fmt: skip
    except Exception:
        for chunk in chunks:
            chunk.probabilities = None
    return items
