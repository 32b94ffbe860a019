"""The figures of ``scripts/explain.py``: the shift-robustness curve, what each network's first layer
learnt, and where each network looks (occlusion sensitivity). matplotlib is imported only when drawing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from pixelsense.infer.looks import OCCLUSION_PATCH

CAPTION_FONT = 9  # points
CAPTION_LINE = 0.2  # inches a caption line takes at that size


def _caption(fig, text: str) -> None:
    """``text`` in italics under the figure, wrapped to its width, with room kept for it."""
    import textwrap

    width, height = fig.get_size_inches()
    lines = textwrap.wrap(text, width=int(0.95 * width * 72 / (CAPTION_FONT * 0.62)))  # 0.62 em a letter
    room = (len(lines) + 0.6) * CAPTION_LINE / height
    fig.get_layout_engine().set(rect=(0, room, 1, 1 - room))
    fig.text(0.5, 0.004, "\n".join(lines), ha="center", va="bottom", fontsize=CAPTION_FONT, style="italic")


def shift_figure(pixels: Sequence[int], curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                 caption: str):  # fmt: skip
    """Test accuracy (%) against shift distance, one line per model (label → (means, stds))."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.2), layout="constrained")
    ax = fig.add_subplot()
    for label, (means, stds) in curves.items():
        ax.errorbar(pixels, [100 * m for m in means], yerr=[100 * s for s in stds], marker="o", capsize=3,
                    label=label)  # fmt: skip
    ax.set_xticks(list(pixels))
    ax.set_xlabel("shift of every test image (pixels; mean over the 8 directions, zero fill)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy on the official test set, shifted")
    ax.grid(alpha=0.3)
    ax.legend()
    _caption(fig, caption)
    return fig


def _grid(subfig, pictures: Tensor, titles: Sequence[str], cols: int, cmap: str, title: str,
          symmetric: bool) -> None:  # fmt: skip
    axes = subfig.subplots(-(-len(pictures) // cols), cols, squeeze=False).flatten()
    for ax in axes:
        ax.set_axis_off()
    for ax, picture, name in zip(axes, pictures, titles, strict=False):
        limit = float(picture.abs().max()) or 1.0
        low = -limit if symmetric else 0.0
        ax.imshow(picture.numpy(), cmap=cmap, vmin=low, vmax=limit, interpolation="nearest")
        ax.set_title(name, fontsize=7)
    subfig.suptitle(title, fontsize=10)


def features_figure(units: Tensor, unit_ids: Sequence[int], filters: Tensor,
                    maps: Mapping[str, tuple[Tensor, Tensor]], caption: str, shown: int = 15):  # fmt: skip
    """Top: the ANN's strongest first-layer units as 28×28 weight images, and the CNN's first 3×3 filters.
    Below: for each named test image (name → (uint8 image, feature maps)), the image and its first
    ``shown`` feature maps after the CNN's first block."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 11), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    ann, cnn = top.subfigures(1, 2)
    _grid(ann, units, [f"unit {u}" for u in unit_ids], 8, "RdBu_r",
          "ANN: weights of its strongest first-layer units\n(one 28×28 template each; red +, blue −)",
          symmetric=True)  # fmt: skip
    _grid(cnn, filters, [f"filter {k}" for k in range(len(filters))], 8, "RdBu_r",
          "CNN: its first layer's 3×3 filters\n(the same 9 weights slide over every position)",
          symmetric=True)  # fmt: skip
    rows = bottom.subfigures(len(maps), 1)
    for row, (name, (image, fmaps)) in zip(rows, maps.items(), strict=True):
        pictures = [image.float() / 255, *fmaps[:shown].float()]
        titles = [f"test image: {name}", *(f"map {k}" for k in range(shown))]
        _grid(
            row,
            torch.stack(pictures),
            titles,
            8,
            "magma",
            f"CNN feature maps of a {name} test image (first conv → BatchNorm → ReLU)",
            symmetric=False,
        )
    _caption(fig, caption)
    return fig


def saliency_figure(rows: Sequence[dict], caption: str):
    """One row per test image: the image, then each model's occlusion map with its prediction. A row is
    ``{"image": uint8 [28, 28], "title": str, "maps": {model: (map [28, 28], predicted class, confidence,
    right)}}``."""
    from matplotlib.figure import Figure

    models = list(rows[0]["maps"])
    fig = Figure(figsize=(2.6 * (1 + len(models)) + 1.2, 2.55 * len(rows) + 0.9), layout="constrained")
    axes = fig.subplots(len(rows), 1 + len(models), squeeze=False)
    image_artist = None
    # One colour scale for every map, so that the colour bar holds for all of them.
    limit = max(float(m[0].abs().max()) for row in rows for m in row["maps"].values()) or 1.0
    for line, row in zip(axes, rows, strict=True):
        for ax in line:
            ax.set_xticks([])
            ax.set_yticks([])
        image = row["image"].float().numpy()
        line[0].imshow(image, cmap="gray", vmin=0, vmax=255)
        line[0].set_ylabel(row["title"], fontsize=8)
        for ax, (model, (heat, predicted, confidence, right)) in zip(
            line[1:], row["maps"].items(), strict=True
        ):
            image_artist = ax.imshow(heat.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.contour(image, levels=[40], colors="black", linewidths=0.6)
            verdict = "right" if right else "WRONG"
            ax.set_title(f"{model}: {predicted} {confidence:.2f} ({verdict})", fontsize=8,
                         color="black" if right else "firebrick")  # fmt: skip
    axes[0][0].set_title("test image", fontsize=8)
    patch = f"{OCCLUSION_PATCH}×{OCCLUSION_PATCH}"
    label = f"drop in the true class's probability\nwhen a {patch} black patch covers the pixel"
    fig.colorbar(image_artist, ax=axes, fraction=0.03, label=label)
    fig.suptitle("Where each network looks: occlusion sensitivity on the most confused pair")
    _caption(fig, caption)
    return fig
