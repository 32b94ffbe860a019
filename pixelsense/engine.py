"""onnxruntime sessions for predict.py, on its main process and in its decoding workers (no torch)."""

from __future__ import annotations

import numpy as np

from pixelsense.inputs import Chunk
from pixelsense.paths import Failure

RUN = 16  # images per onnxruntime call in a worker: its first runs touch ~700 new pages (64: ~4,900)
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
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
