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
    lines = [_permutation_sentence(why, arch) for arch in ARCHS]
    lines.append(_lead_sentence(why["permutation"]))
    lines += _shift_sentences(why["shift"], why["augmentation"])
    lines.append(_sharing_sentence(why["weight_sharing"]))
    return lines


def _lead_sentence(perm: dict) -> str:
    plain = _points(perm["ann"]["plain"]["mean"], perm["cnn"]["plain"]["mean"])
    permuted = _points(perm["ann"]["permuted"]["mean"], perm["cnn"]["permuted"]["mean"])
    head = (f"The CNN's lead over the ANN is {plain:+.2f} points with the pixels in their places and "
            f"{permuted:+.2f} points with the same information in a fixed random order")  # fmt: skip
    if plain <= 0:
        return f"{head}."
    share = (plain - permuted) / plain
    if share <= 0:
        return f"{head}: the CNN's advantage does not come from the spatial layout of the pixels."
    amount = "all" if share >= 1 else f"{share:.0%}"
    return (f"{head}: {amount} of the CNN's advantage comes from the spatial layout of the pixels, which its "
            "3×3 convolutions and pooling are built to use and a dense layer cannot see.")  # fmt: skip


def _shift_sentences(shift: dict, augmentation: dict) -> list[str]:
    pixels = shift["pixels"]
    loss = {name: [_points(acc, shift[name][0]) for acc in shift[name]] for name in augmentation}
    translate, far = augmentation["cnn"]["translate"], len(pixels) - 1
    same, plural = loss["ann_same_augmentation"][far], "s" * (translate != 1)
    lines = [
        f"Shifted by {pixels[far]} pixels, the ANN loses {loss['ann'][far]:.2f} points of accuracy, the ANN "
        f"trained with the CNN's augmentation (translation by up to {translate} pixel{plural}) {same:.2f} "
        f"and the CNN {loss['cnn'][far]:.2f}."
    ]
    rows = []  # (pixels, share of the ANN's extra loss that the augmentation removes, what remains)
    for k in range(1, len(pixels)):
        extra = loss["ann"][k] - loss["cnn"][k]
        if extra > 0:
            rest = loss["ann_same_augmentation"][k] - loss["cnn"][k]
            rows.append((pixels[k], (extra - rest) / extra, rest))
    if rows:
        where = ", ".join(str(k) for k, _, _ in rows)
        removed = ", ".join(f"{share:.0%}" for _, share, _ in rows)
        head = f"Of the ANN's extra loss over the CNN at {where} pixels, the CNN's augmentation removes "
        head += removed
        caught_up = [str(k) for k, _, rest in rows if rest <= 0]
        if caught_up:
            tail = f"at {', '.join(caught_up)} pixels the ANN with it is as robust as the CNN."
        else:
            remains = ", ".join(f"{rest:.2f}" for _, _, rest in rows)
            tail = (f"what remains ({remains} points) is the architecture: convolution and pooling respond "
                    "to a pattern wherever it is, a dense layer only where it saw it.")  # fmt: skip
        lines.append(f"{head}; {tail}")
    if "cnn_permuted" in loss:
        permuted, plain = loss["cnn_permuted"][far], loss["cnn"][far]
        verdict = "more" if permuted > plain else "no more"
        lines.append(
            f"Permuted, the CNN loses {permuted:.2f} points at {pixels[far]} pixels, {verdict} than the "
            f"{plain:.2f} it loses with the pixels in place."
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
