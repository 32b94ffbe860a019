"""``why.md`` and the conclusion of ``scripts/explain.py``, made from ``why.json`` alone: nothing in them is
written by hand, so the report can be checked against its numbers at any time."""

from __future__ import annotations

import math

from pixelsense.constants import ARCHS

LABELS = {  # how each experiment is named in tables and figures
    "ann": "ANN",
    "ann_permuted": "ANN, pixels permuted",
    "ann_same_augmentation": "ANN with the CNN's augmentation",
    "cnn": "CNN",
    "cnn_permuted": "CNN, pixels permuted",
}
CAPTIONS = {
    "shift": "Every test image moved by 0–4 pixels in each of the 8 directions (black comes in); mean ± std "
    "over the seeds. Compare the ANN trained with the CNN's augmentation with the CNN: what remains between "
    "them is the architecture, not the augmentation.",
    "features": "Top left: each ANN unit is a 28×28 template tied to fixed pixel positions. Top right: each "
    "CNN filter is 9 weights reused at every position (edge and blob detectors). Below: the maps those "
    "filters make of a Shirt and a T-shirt/top: outlines, collars, buttons and sleeves, wherever they are.",
    "saliency": "Red: covering these pixels with a black 4×4 patch lowers the probability of the true class "
    "(the model relies on them); blue: it raises it. The black line outlines the garment. Compare where the "
    "ANN and the CNN look on the same image, when they are right and when they are wrong.",
}


def _pct(stat: dict, digits: int = 2) -> str:
    text = f"{100 * stat['mean']:.{digits}f}"
    return text + (f" ± {100 * stat['std']:.{digits}f}" if stat["n"] > 1 else "")


def _points(a: float, b: float) -> float:
    """b − a in percentage points, from the values as shown (2 decimals), so the tables add up."""
    return round(100 * b, 2) - round(100 * a, 2)


def seed_noise(a: dict, b: dict) -> float | None:
    """Two standard errors of the difference of two means, in points: how far seed noise alone moves such a
    difference; None with a single seed, where it cannot be estimated."""
    if min(a["n"], b["n"]) < 2:
        return None
    return 200 * math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"])


def _permutation_sentence(why: dict, arch: str) -> str:
    plain, permuted = why["permutation"][arch]["plain"], why["permutation"][arch]["permuted"]
    change, noise = _points(plain["mean"], permuted["mean"]), seed_noise(plain, permuted)
    name = arch.upper()
    head = (f"Permuting the pixels takes the {name} from {100 * plain['mean']:.2f}% to "
            f"{100 * permuted['mean']:.2f}% test accuracy ({change:+.2f} points")  # fmt: skip
    if noise is None:
        return f"{head}); with one seed there is no estimate of seed noise to judge it by."
    noise_text = f"±{noise:.2f} points, two standard errors over {plain['n']} seeds"
    if abs(change) <= noise:
        return f"{head}, within seed noise: {noise_text}): the {name} does not use the layout of the pixels."
    times = f"{abs(change) / noise:.0f}× the seed noise" if noise > 0 else "beyond seed noise"
    if change < 0:
        return (
            f"{head}, {times}: {noise_text}): this is what the layout of the pixels is worth to the {name}."
        )
    return f"{head}, {times}: {noise_text}): the {name} does better without the layout of the pixels."


def conclusion(why: dict) -> list[str]:
    """Sentences drawn from why.json's numbers."""
    perm = why["permutation"]
    lines = [_permutation_sentence(why, arch) for arch in ARCHS]
    lead_plain = _points(perm["ann"]["plain"]["mean"], perm["cnn"]["plain"]["mean"])
    lead_permuted = _points(perm["ann"]["permuted"]["mean"], perm["cnn"]["permuted"]["mean"])
    lines.append(
        f"With the pixels in their places the CNN leads the ANN by {lead_plain:+.2f} points; with the same "
        f"information in a fixed random order its lead is {lead_permuted:+.2f} points: the CNN's advantage "
        f"{'comes from' if lead_permuted < lead_plain else 'does not come from'} the spatial layout of the "
        "pixels, which its 3×3 convolutions and pooling are built to use and a dense layer cannot see."
    )
    lines += _shift_sentences(why["shift"], why["augmentation"])
    lines.append(_sharing_sentence(why["weight_sharing"]))
    return lines


def _shift_sentences(shift: dict, augmentation: dict) -> list[str]:
    far = len(shift["pixels"]) - 1
    k = shift["pixels"][far]
    loss = {name: _points(shift[name][far], shift[name][0]) for name in augmentation}
    translate = augmentation["cnn"]["translate"]
    lines = [
        f"Shifted by {k} pixels, the ANN loses {loss['ann']:.2f} points of accuracy, the ANN trained with "
        f"the CNN's augmentation (translation by up to {translate} pixel{'s' * (translate != 1)}) "
        f"{loss['ann_same_augmentation']:.2f} and the CNN {loss['cnn']:.2f}."
    ]
    extra, extra_same = loss["ann"] - loss["cnn"], loss["ann_same_augmentation"] - loss["cnn"]
    if extra > 0:
        share = (extra - extra_same) / extra
        lines.append(
            f"The same augmentation removes {share:.0%} of the ANN's extra loss over the CNN at {k} pixels; "
            f"the rest ({extra_same:.2f} points) is the architecture: convolution and pooling respond to a "
            "pattern wherever it is, a dense layer only where it saw it."
        )
    if "cnn_permuted" in loss:
        lines.append(
            f"Permuted, the CNN loses {loss['cnn_permuted']:.2f} points at {k} pixels: with the layout gone, "
            "a shift is no longer a small change to it."
        )
    return lines


def _sharing_sentence(sharing: dict) -> str:
    ann, cnn = sharing["ann"], sharing["cnn"]
    conv, unshared, first = cnn["conv_params"], cnn["conv_params_unshared"], ann["first_layer_params"]
    return (
        f"The CNN's convolutions hold {conv:,} parameters ({conv / cnn['params']:.1%} of its "
        f"{cnn['params']:,}); without weight sharing (a locally connected layer, its own kernel at every "
        f"position) they would need {unshared:,}, {unshared / cnn['params']:.1f}× the whole CNN. The ANN "
        f"spends {first:,} parameters ({first / ann['params']:.0%} of its {ann['params']:,}) on its first "
        "layer alone."
    )


def _table(head: list[str], rows: list[list[str]], align: str = "---:") -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|---|" + "|".join([align] * (len(head) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def markdown(why: dict) -> str:
    """The whole why.md."""
    perm, shift, sharing = why["permutation"], why["shift"], why["weight_sharing"]
    seconds = why.get("seconds", {})
    lines = ["# Why the CNN wins on Fashion-MNIST", ""]
    lines += [
        f"Made by `{why.get('command', 'python scripts/explain.py')}`: {why['seeds']} seed"
        f"{'s' * (why['seeds'] != 1)} per experiment, accuracy on the official test set (10,000 images), "
        f"mean ± std over the seeds.{' Quick mode: every run trained for 1 epoch.' * bool(why.get('quick'))}",
        "",
    ]
    if seconds:
        training, analysis = seconds["training"], seconds["analysis"]
        lines += [f"Training: {training:,.0f} s over {len(why['runs'])} runs (the sum of their "
                  f"`train_seconds`); measurements: {analysis:,.0f} s.", ""]  # fmt: skip
    lines += ["## 1. Pixel-permutation control", ""]
    rows = []
    for arch in ARCHS:
        plain, permuted = perm[arch]["plain"], perm[arch]["permuted"]
        noise = seed_noise(plain, permuted)
        change = f"{_points(plain['mean'], permuted['mean']):+.2f}"
        rows.append(
            [arch.upper(), _pct(plain), _pct(permuted), change, "n/a" if noise is None else f"±{noise:.2f}"]
        )
    lines += _table(["test accuracy (%)", "pixels in place", "pixels permuted", "change (points)",
                     "seed noise (points)"], rows)  # fmt: skip
    lines += ["", "## 2. Translation robustness", ""]
    head = ["test accuracy (%) at a shift of", *(f"{k} px" for k in shift["pixels"])]
    rows = [[LABELS[name], *(f"{100 * m:.2f} ± {100 * s:.2f}" if why["seeds"] > 1 else f"{100 * m:.2f}"
                             for m, s in zip(shift[name], shift["std"][name], strict=True))]
            for name in shift["std"]]  # fmt: skip
    lines += _table(head, rows)
    lines += ["", "![accuracy against shift](shift_robustness.png)", "", f"*{CAPTIONS['shift']}*", ""]
    lines += ["## 3. What each network learns", "", "![first layers and feature maps](features.png)", ""]
    lines += [f"*{CAPTIONS['features']}*", ""]
    lines += ["## 4. Where each network looks", "", "![occlusion sensitivity](saliency.png)", ""]
    lines += [f"*{CAPTIONS['saliency']}*", ""]
    rows = [[f"#{r['index']}", r["case"], *(f"{r[m]['predicted']} ({r[m]['confidence']:.2f})" for m in ARCHS)]
            for r in why["saliency"]]  # fmt: skip
    lines += _table(["test image", "case", "ANN says", "CNN says"], rows, align="---")
    lines += ["", "## 5. Weight sharing", ""]
    rows = [
        ["parameters", *(f"{sharing[a]['params']:,}" for a in ARCHS)],
        ["first layer", *(f"{sharing[a]['first_layer_params']:,}" for a in ARCHS)],
        ["convolutions", *(f"{sharing[a]['conv_params']:,}" for a in ARCHS)],
        [
            "convolutions without weight sharing",
            *(f"{sharing[a]['conv_params_unshared']:,}" for a in ARCHS),
        ],
        ["test accuracy (%)", *(f"{100 * sharing[a]['accuracy']:.2f}" for a in ARCHS)],
    ]
    lines += _table(["", "ANN", "CNN"], rows)
    lines += [
        "",
        "## Conclusion",
        "",
        *(f"- {sentence}" for sentence in why["conclusion"]),
        "",
        "## Runs",
        "",
    ]
    rows = []
    for r in why["runs"]:
        order = "none" if r["permute_pixels"] is None else f"seed {r['permute_pixels']}"
        accuracy, seconds = f"{100 * r['test_accuracy']:.2f}", f"{r['train_seconds']:.0f}"
        rows.append([LABELS[r["experiment"]], str(r["seed"]), order, accuracy, seconds])
    lines += _table(["experiment", "seed", "pixel permutation", "test accuracy (%)", "training (s)"], rows)
    return "\n".join(lines) + "\n"
