"""True labels for predict.py's accuracy report (``--labels``): an IDX label file (raw or .gz), a .npy of
class indices, or a CSV of ``file,label`` rows. Each is checked whole before anything is predicted, and a
file that cannot be used is refused with one sentence naming the place and the value."""

from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path

import numpy as np

from pixelsense.constants import NUM_CLASSES
from pixelsense.errors import PixelsenseError
from pixelsense.formats import IDX_LABELS, gzipped, labels_kind
from pixelsense.infer.arrays import npy_header
from pixelsense.paths import not_regular

WHAT = "IDX labels (.gz too), a .npy of class indices, or a CSV file,label"


class LabelError(PixelsenseError):
    """The --labels file cannot be used; the message says why."""


def load_labels(path: str, most: int | None = None) -> dict[str, int] | list[int]:
    """Labels by source (CSV) or in output order (IDX, .npy); LabelError when any of them is unusable, or
    when an IDX or .npy file's header declares more than ``most`` (the images the inputs hold): refused
    then before its body is read, so a small .gz that declares millions cannot fill the memory."""
    try:
        if problem := not_regular(Path(path)):
            raise LabelError(problem)
        if Path(path).stat().st_size == 0:
            raise LabelError(f"is empty; pass {WHAT}")
        kind = labels_kind(Path(path))  # by its first bytes: the name decides only where they do not
        if kind == "csv":
            labels = _csv_labels(path)
        elif kind == "npy":
            labels = _npy_labels(path, most)
        else:
            labels = _idx_labels(path, most)
    except LabelError as err:
        raise LabelError(f"--labels {path}: {err}.") from None
    except UnicodeDecodeError as err:
        raise LabelError(f"--labels {path} is not a text CSV file (byte {err.object[err.start]:#04x} at "
                         f"position {err.start} is not UTF-8); pass {WHAT}.") from None  # fmt: skip
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise LabelError(f"--labels {path} is a truncated or damaged .gz file ({err}).") from None
    except csv.Error as err:
        raise LabelError(f"--labels {path} is not a CSV file,label ({err}).") from None
    except OSError as err:
        raise LabelError(f"--labels {path} cannot be read ({err.strerror or err}).") from None
    if not labels:
        raise LabelError(f"--labels {path} holds no labels; pass {WHAT}.")
    return labels


def _open(path: str):
    opener = gzip.open if gzipped(Path(path)) else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")  # a BOM from spreadsheet programs is fine


def _csv_labels(path: str) -> dict[str, int]:
    labels: dict[str, int] = {}
    with _open(path) as f:
        for row, cells in enumerate(csv.reader(f), 1):
            if not "".join(cells).strip():
                continue
            value = cells[1].strip() if len(cells) > 1 else ""
            if row == 1 and not value.lstrip("-").isdigit():
                continue  # a header line
            if len(cells) < 2:
                raise LabelError(f"row {row} has no label; each row is file,label")
            label = _index(value, f"row {row}")
            if labels.setdefault(cells[0], label) != label:  # which is true is unknown: neither is used
                raise LabelError(f"row {row} labels {cells[0]} {label}, but an earlier row labels it "
                                 f"{labels[cells[0]]}; keep one row a file")  # fmt: skip
    return labels


def _index(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < NUM_CLASSES:
        shown = text if value is not None else repr(text)
        raise LabelError(f"{where}: {shown} is not a class index 0–{NUM_CLASSES - 1}")
    return value


def _checked(values: np.ndarray) -> list[int]:
    """The values as ints, or LabelError naming the first one out of range and its index."""
    bad = np.flatnonzero((values < 0) | (values >= NUM_CLASSES))
    if bad.size:
        raise LabelError(f"index {bad[0]}: {values[bad[0]]} is not a class index 0–{NUM_CLASSES - 1}")
    return values.astype(int).tolist()


def _not_more(declared: int, most: int | None) -> None:
    if most is not None and declared > most:  # more than can be predicted: said now
        raise LabelError(f"holds {_many(declared, 'label')}, but the inputs hold at most "
                         f"{_many(most, 'image')}, and IDX or .npy labels follow the output order, one per "
                         "image; pass the labels of these inputs, or a CSV of file,label")  # fmt: skip


def _many(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _npy_labels(path: str, most: int | None) -> list[int]:
    try:
        shape, dtype = npy_header(Path(path))
    except ValueError as err:
        raise LabelError(str(err)) from None
    if not np.issubdtype(dtype, np.integer):
        raise LabelError(f"holds {dtype} values; labels are integer class indices 0–{NUM_CLASSES - 1}")
    _not_more(int(np.prod(shape)), most)
    return _checked(np.load(path, mmap_mode="r", allow_pickle=False).reshape(-1))


def _idx_labels(path: str, most: int | None) -> list[int]:
    with (gzip.open if gzipped(Path(path)) else open)(path, "rb") as f:
        header = f.read(8)
        if header[:4] != IDX_LABELS or len(header) < 8:
            raise LabelError(f"is not {WHAT}")
        count = int.from_bytes(header[4:], "big")
        _not_more(count, most)
        parts, left = [], count  # read in pieces: a header may promise far more than the file holds
        while left and (part := f.read(min(left, 1 << 20))):
            parts.append(part)
            left -= len(part)
        data = b"".join(parts)
        if len(data) < count:
            raise LabelError(f"is truncated: the header says {count} labels, the file holds {len(data)}")
        if f.read(1):  # also makes gzip check its CRC
            raise LabelError(f"has data after its {count} labels: not a clean IDX label file")
    return _checked(np.frombuffer(data, np.uint8))
