"""The comparison's ``report.md``: side-by-side tables and a plain-language conclusion that is generated
from the numbers (nothing in it is written by hand)."""

from __future__ import annotations

from pathlib import Path

from pixelsense.constants import CLASSES
from pixelsense.train.report import confused_pairs

TOP_PAIRS = 5  # confused pairs listed per model
WEAK_CLASSES = 4  # the ANN's weakest classes named in the conclusion
MOST_IMPROVED = 3  # the classes with the largest F1 gain named in the conclusion
SCORE_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1"}  # macro scores, as labelled


def _stat(stat: dict, digits: int = 4, scale: float = 1.0, unit: str = "") -> str:
    if stat["mean"] is None:
        return "n/a"
    text = f"{stat['mean'] * scale:,.{digits}f}"
    if stat["n"] > 1:
        text += f" ± {stat['std'] * scale:,.{digits}f}"
    return text + unit


def _f1(result: dict, name: str) -> float:
    return result["summary"]["per_class_f1"][name]["mean"]


def _gain(ann: dict, cnn: dict, name: str) -> float:
    """CNN − ANN F1 of a class, from the values as shown (3 decimals), so the columns add up."""
    return round(_f1(cnn, name), 3) - round(_f1(ann, name), 3)


def _short(path: str) -> str:
    """A checkpoint as its run folder and file name (the full path is in report.json)."""
    return "/".join(Path(path).parts[-2:])


def pairs(result: dict) -> list[tuple[str, str, float]]:
    """The model's most frequent confusions (true, predicted, mean count over its runs)."""
    return confused_pairs(result["summary"]["confusion_matrix_mean"], CLASSES, TOP_PAIRS)


def conclusion(ann: dict, cnn: dict) -> list[str]:
    """Sentences drawn from the two summaries: who wins, by how much, where, and what stays hard."""
    a, c = ann["summary"]["accuracy"]["mean"], cnn["summary"]["accuracy"]["mean"]
    ratio = cnn["params"] / ann["params"]
    verdict = "beats" if c > a else "does not beat"
    lines = [
        f"The CNN {verdict} the ANN on the test set: {c:.2%} against {a:.2%} accuracy "
        f"({round(c * 100, 2) - round(a * 100, 2):+.2f} points), with {ratio:.2f}× the ANN's parameters."
    ]
    gains = sorted(((_gain(ann, cnn, n), n) for n in CLASSES), reverse=True)
    best = [(d, n) for d, n in gains[:MOST_IMPROVED] if d > 0]
    if best:
        named = ", ".join(f"{n} ({d:+.3f})" for d, n in best)
        lines.append(f"Spatial features help most on {named} in F1.")
    worse = [n for d, n in gains if d < 0]
    if worse:
        lines.append(f"The CNN is worse than the ANN on {', '.join(worse)}.")
    weak = sorted(CLASSES, key=lambda n: _f1(ann, n))[:WEAK_CLASSES]
    fixed = [n for n in weak if _f1(cnn, n) > _f1(ann, n)]
    lines.append(
        f"The ANN's weakest classes are {', '.join(f'{n} ({_f1(ann, n):.3f})' for n in weak)}; "
        f"the CNN improves {len(fixed)} of these {len(weak)}."
    )
    hardest = min(CLASSES, key=lambda n: _f1(cnn, n))
    verb = "stays" if hardest == min(CLASSES, key=lambda n: _f1(ann, n)) else "is"
    lines.append(f"{hardest} {verb} the CNN's hardest class (F1 {_f1(cnn, hardest):.3f}).")
    of_ann, of_cnn = ({(t, p): n for t, p, n in pairs(r)} for r in (ann, cnn))
    shared = [pair for pair in of_cnn if pair in of_ann]
    if shared:
        shown = "; ".join(f"{t} → {p} (ANN {of_ann[t, p]:.0f}, CNN {of_cnn[t, p]:.0f})" for t, p in shared)
        lines.append(f"Pairs among both models' top {TOP_PAIRS} confusions: {shown}.")
    return lines


def markdown(ann: dict, cnn: dict) -> str:
    """The whole report.md."""
    both = {"ANN": ann, "CNN": cnn}
    counts = len(ann["runs"]), len(cnn["runs"])
    seeds = max(counts)
    spread = f"mean ± std over {seeds} seeds" if seeds > 1 else "one run each"
    if counts[0] != counts[1]:
        spread = f"mean ± std over the ANN's {counts[0]} and the CNN's {counts[1]} runs"
    threads, batch = ann.get("onnx_threads", ""), ann.get("onnx_batch", "")
    rows = [
        ("test accuracy (%)", lambda r: _stat(r["summary"]["accuracy"], 2, 100)),
        *((f"macro {label}", lambda r, k=k: _stat(r["summary"][k])) for k, label in SCORE_NAMES.items()),
        ("parameters", lambda r: f"{r['params']:,}"),
        ("training time (s)", lambda r: _stat(r["summary"]["train_seconds"], 0)),
        (
            f"onnxruntime img/s (batch {batch}, {threads} thread{'s' * (threads != 1)})",
            lambda r: f"{r['onnx_img_per_s']:,.0f}",
        ),
    ]
    lines = ["# ANN vs CNN on Fashion-MNIST", "", f"Official test set (10,000 images); {spread}.", ""]
    lines += ["| | ANN | CNN |", "|---|---:|---:|"]
    lines += [f"| {label} | " + " | ".join(cell(r) for r in both.values()) + " |" for label, cell in rows]
    lines += [
        "",
        "## Per-class F1",
        "",
        "| class | ANN | CNN | CNN − ANN |",
        "|---|---:|---:|---:|",
    ]
    for name in CLASSES:
        cells = [_stat(r["summary"]["per_class_f1"][name], 3) for r in both.values()]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {_gain(ann, cnn, name):+.3f} |")
    lines += ["", "![per-class F1](per_class_f1.png)", ""]
    lines += [f"## Top {TOP_PAIRS} confused pairs (true → predicted)", ""]
    unit = "mean count" if seeds > 1 else "count"
    lines += [f"| ANN | {unit} | CNN | {unit} |", "|---|---:|---|---:|"]
    for (ta, pa, na), (tc, pc, nc) in zip(pairs(ann), pairs(cnn), strict=True):
        lines.append(f"| {ta} → {pa} | {na:.1f} | {tc} → {pc} | {nc:.1f} |")
    lines += ["", "![confusion matrices](confusion_matrices.png)", "", "## Conclusion", ""]
    lines += [f"- {sentence}" for sentence in conclusion(ann, cnn)]
    lines += ["", "## Runs", ""]
    for name, r in both.items():
        for run in r["runs"]:
            lines.append(
                f"- {name} seed {run['seed']}: `{_short(run['checkpoint'])}`, accuracy {run['accuracy']:.4f}"
            )
    return "\n".join(lines) + "\n"
