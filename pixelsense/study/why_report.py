"""``why.md``, its captions and its conclusion, made from ``why.json`` alone: nothing in them is written by
hand, so the report can be checked against its numbers at any time."""

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


def captions(why: dict) -> dict[str, str]:
    """What each figure shows and what to look for."""
    pixels, patch, pair = why["shift"]["pixels"], why["occlusion_patch"], why["pair"]
    shift = (
        f"Every test image moved by {pixels[0]}–{pixels[-1]} pixels in each of the 8 directions (black comes "
        "in); mean ± std over the seeds. Compare the ANN trained with the CNN's augmentation with the CNN: "
        "the gap that remains between them is not the augmentation."
    )
    features = (
        "Top left: each ANN unit is one 28×28 template tied to fixed pixel positions. Top right: each CNN "
        f"filter is 9 weights, applied at every position. Below: the maps those filters make of a {pair[0]} "
        f"and a {pair[1]} test image, which follow the garment wherever it is."
    )
    saliency = (
        f"Red: covering these pixels with a black {patch}×{patch} patch lowers the probability of the true "
        "class (the model relies on them); blue: it raises it. One colour scale for all maps; the black line "
        "outlines the garment. Compare where the ANN and the CNN look on the same image, when they are right "
        "and when they are wrong."
    )
    return {"shift": shift, "features": features, "saliency": saliency}


def _pct(stat: dict, digits: int = 2) -> str:
    text = f"{100 * stat['mean']:.{digits}f}"
    return text + (f" ± {100 * stat['std']:.{digits}f}" if stat["n"] > 1 else "")


def _points(a: float, b: float) -> float:
    """b − a in percentage points, from the values as shown (2 decimals), so the tables add up."""
    return round(100 * b, 2) - round(100 * a, 2)


def _px(k: int) -> str:
    return f"{k} pixel{'s' * (k != 1)}"


def seed_noise(a: dict, b: dict) -> float | None:
    """Two standard errors of the difference of two means, in points: the yardstick a change is judged by
    (a rough one with few seeds); None with a single seed, where there is none."""
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
        return f"{head}); with one seed there is no seed noise to judge it by."
    noise_text = f"seed noise ±{noise:.2f} points, two standard errors over {plain['n']} seeds"
    if abs(change) <= noise:
        return f"{head}, within {noise_text}): the order of the pixels makes no measurable difference."
    if change < 0:
        return f"{head}, beyond {noise_text}): this is what the layout of the pixels is worth to the {name}."
    return f"{head}, beyond {noise_text}): the {name} does better without the layout of the pixels."


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


def _shift_sentences(why: dict) -> list[str]:
    shift, pixels, far = why["shift"], why["shift"]["pixels"], len(why["shift"]["pixels"]) - 1
    loss = {name: [_points(acc, shift[name][0]) for acc in shift[name]] for name in shift["std"]}
    translate = why["augmentation"]["ann_same_augmentation"]["translate"]
    lines = [
        f"Shifted by {_px(pixels[far])}, the ANN loses {loss['ann'][far]:.2f} points of accuracy, the ANN "
        f"trained with the CNN's augmentation (translation by up to {_px(translate)}) "
        f"{loss['ann_same_augmentation'][far]:.2f} and the CNN {loss['cnn'][far]:.2f}."
    ]
    ks = range(1, len(pixels))
    extra = [(loss["ann"][k] - loss["cnn"][k], loss["ann_same_augmentation"][k] - loss["cnn"][k]) for k in ks]
    steps = ", ".join(f"{a:.2f} → {b:.2f} at {_px(pixels[k])}" for k, (a, b) in zip(ks, extra, strict=True))
    line = f"The ANN's extra loss over the CNN, without → with the CNN's augmentation: {steps}"
    behind = [pixels[k] for k, (_, b) in zip(ks, extra, strict=True) if b > 0]
    if len(behind) == len(extra):
        others = ", ".join(k.replace("_", " ") for k in why["recipe_differences"])
        rest = f" and the rest of its recipe ({others})" if others else ""
        line += (f"; with the same augmentation the ANN still loses more at every shift: that remainder is "
                 f"the network{rest}, not the augmentation.")  # fmt: skip
    elif behind:
        line += (
            f"; with the same augmentation it is as robust as the CNN but at {', '.join(map(_px, behind))}."
        )
    else:
        line += "; with the same augmentation the ANN is as robust as the CNN."
    lines.append(line)
    if "cnn_permuted" in loss:
        permuted, plain = loss["cnn_permuted"][far], loss["cnn"][far]
        more = "more" if permuted > plain else "no more"
        lines.append(
            f"Permuted, the CNN loses {permuted:.2f} points at {_px(pixels[far])}, {more} than the "
            f"{plain:.2f} it loses with its pixels in place."
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


def conclusion(why: dict) -> list[str]:
    """Sentences drawn from why.json's numbers."""
    lines = [_permutation_sentence(why, arch) for arch in ARCHS]
    lines.append(_lead_sentence(why["permutation"]))
    lines += _shift_sentences(why)
    lines.append(_sharing_sentence(why["weight_sharing"]))
    return lines


def _table(head: list[str], rows: list[list[str]], align: str = "---:") -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|---|" + "|".join([align] * (len(head) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _head(why: dict) -> list[str]:
    seeds, epochs = why["seeds"], sorted({r["config"]["epochs"] for r in why["runs"]})
    quick = (
        f" Quick mode: every run trained for {epochs[0]} epoch{'s' * (epochs[0] != 1)}."
        if why["quick"]
        else ""
    )
    lines = [
        "# Why the CNN wins on Fashion-MNIST",
        "",
        f"Made by `{why['command']}`: {seeds} seed{'s' * (seeds != 1)} per experiment, accuracy on the "
        f"official test set (10,000 images), mean ± std over the seeds.{quick}",
        "",
    ]
    seconds = why["seconds"]
    timing = (f"Training: {seconds['training']:,.0f} s over {len(why['runs'])} runs (the sum of their "
              f"`train_seconds`); measurements: {seconds['analysis']:,.0f} s.")  # fmt: skip
    return [*lines, timing, ""]


def _permutation_table(why: dict) -> list[str]:
    rows = []
    for arch in ARCHS:
        plain, permuted = why["permutation"][arch]["plain"], why["permutation"][arch]["permuted"]
        noise = seed_noise(plain, permuted)
        change = f"{_points(plain['mean'], permuted['mean']):+.2f}"
        rows.append(
            [arch.upper(), _pct(plain), _pct(permuted), change, "n/a" if noise is None else f"±{noise:.2f}"]
        )
    head = [
        "test accuracy (%)",
        "pixels in place",
        "pixels permuted",
        "change (points)",
        "seed noise (points)",
    ]
    return ["## 1. Pixel-permutation control", "", *_table(head, rows), ""]


def _shift_table(why: dict, caption: str) -> list[str]:
    shift = why["shift"]
    head = ["test accuracy (%) at a shift of", *(f"{k} px" for k in shift["pixels"])]
    rows = [[LABELS[name], *(f"{100 * m:.2f} ± {100 * s:.2f}" if why["seeds"] > 1 else f"{100 * m:.2f}"
                             for m, s in zip(shift[name], shift["std"][name], strict=True))]
            for name in shift["std"]]  # fmt: skip
    figure = ["![accuracy against shift](shift_robustness.png)", "", f"*{caption}*", ""]
    return ["## 2. Translation robustness", "", *_table(head, rows), "", *figure]


def _looking_inside(why: dict, texts: dict[str, str]) -> list[str]:
    lines = ["## 3. What each network learns", "", "![first layers and feature maps](features.png)", ""]
    lines += [f"*{texts['features']}*", "", "## 4. Where each network looks", ""]
    lines += ["![occlusion sensitivity](saliency.png)", "", f"*{texts['saliency']}*", ""]
    rows = [[f"#{r['index']}", r["case"], *(f"{r[m]['predicted']} ({r[m]['confidence']:.2f})" for m in ARCHS)]
            for r in why["saliency"]]  # fmt: skip
    return [*lines, *_table(["test image", "case", "ANN says", "CNN says"], rows, align="---"), ""]


def _sharing_table(why: dict) -> list[str]:
    sharing = why["weight_sharing"]
    rows = [
        [label, *(f"{sharing[a][key]:,}" for a in ARCHS)]
        for label, key in (("parameters", "params"), ("first layer", "first_layer_params"),
                           ("convolutions", "conv_params"),
                           ("convolutions without weight sharing", "conv_params_unshared"))
    ]  # fmt: skip
    rows.append(["test accuracy (%)", *(f"{100 * sharing[a]['accuracy']:.2f}" for a in ARCHS)])
    return ["## 5. Weight sharing", "", *_table(["", "ANN", "CNN"], rows), ""]


def _runs_table(why: dict) -> list[str]:
    rows = []
    for r in why["runs"]:
        order = "none" if r["permute_pixels"] is None else f"seed {r['permute_pixels']}"
        accuracy, seconds = f"{100 * r['test_accuracy']:.2f}", f"{r['train_seconds']:.0f}"
        rows.append([LABELS[r["experiment"]], str(r["seed"]), order, accuracy, seconds])
    return [
        "## Runs",
        "",
        *_table(["experiment", "seed", "pixel permutation", "test accuracy (%)", "training (s)"], rows),
    ]


def markdown(why: dict) -> str:
    """The whole why.md."""
    texts = captions(why)
    lines = [
        *_head(why),
        *_permutation_table(why),
        *_shift_table(why, texts["shift"]),
        *_looking_inside(why, texts),
    ]
    lines += [*_sharing_table(why), "## Conclusion", "", *(f"- {s}" for s in why["conclusion"]), ""]
    return "\n".join([*lines, *_runs_table(why)]) + "\n"
