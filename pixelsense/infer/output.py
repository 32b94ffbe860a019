"""The rows predict.py writes, CSV or JSON Lines: the best class and its confidence, the next ``topk - 1``,
then how the image was read (its polarity). Built column by column and written a batch at a time, since a
row at a time costs more than onnxruntime takes to run a small network."""

from __future__ import annotations

import json

import numpy as np

from pixelsense.infer.chunk import Chunk

QUOTED = ',"\r\n'  # a CSV field holding one of these is quoted (RFC 4180's minimal quoting)


def fieldnames(topk: int) -> list[str]:
    extra = [f"top{k}_{c}" for k in range(2, topk + 1) for c in ("label", "class", "confidence")]
    return ["source", "label", "class", "confidence", *extra, "polarity"]


class Rows:
    """Writes each batch's rows to ``out``; the CSV header comes with the first batch, so that a run in
    which every input fails writes nothing."""

    def __init__(self, out, format: str, topk: int, classes: list[str]):
        self.out, self.format, self.topk, self.classes = out, format, topk, classes
        self.names = fieldnames(topk)
        self.header = format == "csv"
        self.plain = not any(c in name for name in classes for c in QUOTED)  # no class name needs quotes
        self.heads = [f"{label},{name}," for label, name in enumerate(classes)]

    def write(self, probabilities: np.ndarray, chunk: Chunk) -> list[int]:
        """The batch's rows, written; returns the best label of each image."""
        columns = self._columns(probabilities, chunk)
        if self.format == "jsonl":
            self.out.write("".join(json.dumps(dict(zip(self.names, row, strict=True))) + "\n"
                                   for row in zip(*columns, strict=True)))  # fmt: skip
            return columns[1]
        if self.header:
            self.out.write(",".join(self.names) + "\n")
            self.header = False
        if not self.plain or any(c in "\0".join(chunk.sources) for c in QUOTED):
            self.out.write("".join(",".join(map(_field, row)) + "\n" for row in zip(*columns, strict=True)))
        elif self.topk == 1:  # label and class as one string per class
            sources, labels, _, confidences, polarities = columns
            rows = zip(sources, labels, confidences, polarities, strict=True)
            lines = [f"{s},{self.heads[k]}{p},{q}\n" for s, k, p, q in rows]
            self.out.write("".join(lines))
        else:
            self.out.write("".join([",".join(map(str, row)) + "\n" for row in zip(*columns, strict=True)]))
        return columns[1]

    def _columns(self, probabilities: np.ndarray, chunk: Chunk) -> list[list]:
        if self.topk == 1:
            order = probabilities.argmax(axis=1)[:, None]  # the first of equal bests, as the stable sort
        else:
            order = np.argsort(-probabilities, axis=1, kind="stable")[:, : self.topk]
        picked = np.round(np.take_along_axis(probabilities, order, axis=1).astype(np.float64), 6)
        columns: list[list] = [chunk.sources]
        for k in range(self.topk):
            labels = order[:, k].tolist()
            columns += [labels, [self.classes[i] for i in labels], picked[:, k].tolist()]
        return [*columns, chunk.polarities]


def _field(value) -> str:
    """One CSV field, quoted when it must be. The csv module quotes only the characters of its line
    terminator, and a file name may hold a carriage return too."""
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in QUOTED) else text
