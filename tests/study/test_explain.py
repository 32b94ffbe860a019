"""scripts/explain.py: experiments that change one thing each, runs reused, the probes it measures with,
the report made from why.json alone, and one-line errors with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pixelsense.cli import explain_main
from pixelsense.cli.fit_options import parse_config
from pixelsense.study import probes, runs
from pixelsense.study.explain import (
    EXPERIMENTS,
    most_confused_pair,
    pick_examples,
    run_options,
    train_experiments,
)
from pixelsense.study.why_report import conclusion, markdown
from pixelsense.train.config import FitConfig
from pixelsense.train.nets import build_net


def _changed(name: str, seed: int) -> dict:
    model = EXPERIMENTS[name][0]
    plain, changed = (
        FitConfig(model=model).resolved(),
        FitConfig(model=model, **run_options(name, seed)).resolved(),
    )
    return {k: v for k, v in vars(changed).items() if vars(plain)[k] != v}


def test_each_experiment_changes_one_thing_against_its_default_recipe():
    assert _changed("ann", 1) == {} and _changed("cnn", 1) == {}
    assert _changed("ann_permuted", 1) == {"permute_pixels": 1} and _changed("cnn_permuted", 0) == {
        "permute_pixels": 0
    }
    assert _changed("ann_same_augmentation", 0) == {"translate": parse_config(["--model", "cnn"]).translate}


def test_experiments_reuse_compare_runs_and_their_own_and_keep_quick_runs_apart(tmp_path, trained_now):
    compare_dir, why_dir = tmp_path / "compare", tmp_path / "why"
    runs.train_runs(1, compare_dir, log=lambda _: None)  # compare.py's plain ann-seed0 and cnn-seed0
    trained_now.clear()
    result = train_experiments(2, why_dir, reuse=[compare_dir], log=lambda _: None)
    trained = [(Path(cfg.checkpoint_dir).name, cfg.epochs) for cfg in trained_now]
    assert ("ann-seed0", 25) not in trained and ("cnn-seed0", 20) not in trained
    assert sorted(trained) == sorted(
        [("ann_permuted-seed0", 25), ("ann_same_augmentation-seed0", 25), ("cnn_permuted-seed0", 20),
         ("ann-seed1", 25), ("ann_permuted-seed1", 25), ("ann_same_augmentation-seed1", 25), ("cnn-seed1", 20),
         ("cnn_permuted-seed1", 20)]
    )  # fmt: skip
    assert [m["config"]["permute_pixels"] for m in result["cnn_permuted"]] == [0, 1]
    assert Path(result["ann"][0]["best_checkpoint"]).parent == runs.run_dir(compare_dir, "ann", 0)

    trained_now.clear()
    train_experiments(2, why_dir, reuse=[compare_dir], log=lambda _: None)
    assert trained_now == []  # everything finished: nothing trains again
    train_experiments(1, why_dir, quick=True, reuse=[compare_dir], log=lambda _: None)
    assert len(trained_now) == len(EXPERIMENTS) and {cfg.epochs for cfg in trained_now} == {1}
    assert (why_dir / "quick" / "runs" / "cnn-seed0" / "metrics.json").is_file()
    assert json.loads((why_dir / "runs" / "cnn-seed1" / "metrics.json").read_text())["config"]["epochs"] == 20


def test_shift_moves_pixels_and_fills_with_black():
    image = torch.arange(1, 785).reshape(28, 28)
    moved = probes.shift(image, 2, -3)
    assert torch.equal(moved[2:, :25], image[:26, 3:])
    assert moved[:2].sum() == 0 and moved[:, 25:].sum() == 0
    assert probes.shift(image, 28, 0).sum() == 0 and torch.equal(probes.shift(image, 0, 0), image)


def test_shift_accuracy_averages_the_eight_directions():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 200
    labels = torch.zeros(4, dtype=torch.long)

    def centred(x):  # "class 0" only while pixel (14, 14)'s 3×3 neighbourhood is fully lit
        lit = x[:, 13:16, 13:16].flatten(1).min(1).values > 0
        return torch.stack([lit.double(), (~lit).double()], 1)

    # The square covers 10..17: 13..15 stay lit for shifts up to 2 in every direction; at 3 only when
    # moving down, right or both (3 of the 8 directions); at 4 never.
    assert probes.shift_accuracy(centred, images, labels, [0, 1, 2, 3, 4]) == [1.0, 1.0, 1.0, 0.375, 0.0]


def test_occlusion_map_finds_the_pixels_a_model_relies_on():
    image = torch.full((28, 28), 100, dtype=torch.uint8)

    def watches_one_pixel(x):
        on = x[:, 5, 20].double() / 100
        return torch.stack([on, 1 - on], 1)

    heat = probes.occlusion_map(watches_one_pixel, image, label=0)
    assert heat.shape == (28, 28) and heat[5, 20] == pytest.approx(1.0)
    assert heat[5, 20] == heat.max() and heat[20, 5] == 0  # far away: covering it changes nothing


def test_weight_sharing_counts_what_the_convolutions_would_need_unshared():
    cnn = build_net("cnn", (32, 64), (128,), 0.2)
    counted = probes.weight_sharing(cnn)
    assert counted["conv_params"] == 1 * 32 * 9 + 32 * 64 * 9
    assert counted["conv_params_unshared"] == 1 * 32 * 9 * 28 * 28 + 32 * 64 * 9 * 14 * 14
    assert (
        counted["params"] == sum(p.numel() for p in cnn.parameters()) and counted["first_layer_params"] == 288
    )
    ann = probes.weight_sharing(build_net("ann", (), (512, 256), 0.2))
    assert ann["conv_params"] == 0 and ann["first_layer_params"] == 784 * 512 + 512


def test_strongest_units_are_drawn_in_the_images_own_layout_behind_a_permutation():
    plain = build_net("ann", (), (64,), 0.0)
    permuted = build_net("ann", (), (64,), 0.0, permute_pixels=5)
    permuted[1].load_state_dict(plain.state_dict())
    # the same weights read permuted pixels, so drawn un-permuted they differ from the plain drawing...
    (units, pictures), (units_p, pictures_p) = (
        probes.strongest_units(plain, 4),
        probes.strongest_units(permuted, 4),
    )
    assert torch.equal(units, units_p) and not torch.equal(pictures, pictures_p)
    # ...by exactly the permutation
    assert torch.equal(pictures_p.flatten(1)[:, permuted[0].order], pictures.flatten(1))


def test_the_most_confused_pair_and_the_examples_picked_from_it():
    matrix = torch.eye(10) * 100
    matrix[6, 0], matrix[0, 6], matrix[2, 4] = 30, 20, 40  # 6↔0: 50 both ways, more than 2↔4
    assert most_confused_pair([matrix.tolist()]) == (0, 6)
    labels = torch.tensor([0, 0, 6, 6, 6, 0])
    predicted = {"ann": torch.tensor([0, 6, 6, 0, 0, 6]), "cnn": torch.tensor([0, 0, 6, 6, 0, 6])}
    assert pick_examples(labels, predicted, (0, 6)) == [
        (0, "T-shirt/top: both right"), (1, "T-shirt/top: ANN wrong, CNN right"), (5, "T-shirt/top: both wrong"),
        (2, "Shirt: both right"), (3, "Shirt: ANN wrong, CNN right"), (4, "Shirt: both wrong"),
    ]  # fmt: skip


def _stat(values):
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return {"mean": mean, "std": std, "n": len(values), "runs": values}


def synthetic_why(ann_permuted=(0.8990, 0.8970), cnn_permuted=(0.8700, 0.8740)) -> dict:
    sharing = {"params": 100, "conv_params": 10, "conv_params_unshared": 1000, "first_layer_params": 80,
               "accuracy": 0.9}  # fmt: skip
    why = {
        "command": "python scripts/explain.py", "quick": False, "seeds": 2,
        "permutation": {
            "ann": {"plain": _stat([0.8980, 0.8990]), "permuted": _stat(list(ann_permuted))},
            "cnn": {"plain": _stat([0.9330, 0.9320]), "permuted": _stat(list(cnn_permuted))},
        },
        "shift": {"pixels": [0, 1, 2], "ann": [0.90, 0.80, 0.50], "ann_same_augmentation": [0.90, 0.88, 0.60],
                  "cnn": [0.93, 0.92, 0.80], "cnn_permuted": [0.87, 0.60, 0.30],
                  "std": {n: [0.0, 0.0, 0.0] for n in ("ann", "ann_same_augmentation", "cnn", "cnn_permuted")}},
        "augmentation": {"ann": {"flip": True, "translate": 0}, "ann_same_augmentation": {"flip": True, "translate": 1},
                         "cnn": {"flip": True, "translate": 1}, "cnn_permuted": {"flip": True, "translate": 1}},
        "recipe_differences": ["lr", "label_smoothing"],
        "weight_sharing": {"ann": sharing, "cnn": sharing},
        "pair": ["T-shirt/top", "Shirt"], "occlusion_patch": 4,
        "saliency": [{"index": 3, "case": "Shirt: both right", "true": "Shirt",
                      "ann": {"predicted": "Shirt", "confidence": 0.7}, "cnn": {"predicted": "Shirt", "confidence": 0.9}}],
        "runs": [{"experiment": "cnn_permuted", "seed": 1, "permute_pixels": 1, "test_accuracy": 0.874,
                  "train_seconds": 600.0, "config": {"epochs": 20}}],
        "seconds": {"training": 600.0, "analysis": 61.4},
    }  # fmt: skip
    return why


def test_the_conclusion_says_what_the_numbers_show():
    lines = conclusion(synthetic_why())
    assert lines[0].startswith(
        "Permuting the pixels takes the ANN from 89.85% to 89.80% test accuracy (-0.05 points, within seed noise "
        "±0.22 points"
    )
    assert "makes no measurable difference" in lines[0]
    assert "takes the CNN from 93.25% to 87.20%" in lines[1] and "beyond seed noise" in lines[1]
    assert "worth to the CNN" in lines[1]
    assert "lead over the ANN is +3.40 points with the pixels in their places and -2.60 points" in lines[2]
    assert "all of the CNN's advantage comes from the spatial layout" in lines[2]
    assert "Shifted by 2 pixels, the ANN loses 40.00 points" in lines[3] and "the CNN 13.00" in lines[3]
    assert "(translation by up to 1 pixel)" in lines[3]
    # The ANN's extra loss over the CNN: 9 points at 1 pixel, 27 at 2; with the CNN's augmentation 1 and 17.
    assert (
        "without → with the CNN's augmentation: 9.00 → 1.00 at 1 pixel, 27.00 → 17.00 at 2 pixels" in lines[4]
    )
    assert (
        "still loses more at every shift: that remainder is the network and the rest of its recipe (lr, label smoothing)"
        in lines[4]
    )
    assert "Permuted, the CNN loses 57.00 points at 2 pixels, more than the 13.00" in lines[5]
    caught_up = synthetic_why()
    caught_up["shift"]["ann_same_augmentation"][1] = 0.95
    assert "as robust as the CNN but at 2 pixels." in conclusion(caught_up)[4]
    caught_up["shift"]["ann_same_augmentation"][2] = 0.90
    assert conclusion(caught_up)[4].endswith("with the same augmentation the ANN is as robust as the CNN.")
    # had the ANN moved as much as the CNN, the sentence would say so
    moved = conclusion(synthetic_why(ann_permuted=(0.8700, 0.8720)))[0]
    assert "within seed noise" not in moved and "worth to the ANN" in moved


def test_the_report_is_made_from_why_json_alone():
    why = synthetic_why()
    why["conclusion"] = conclusion(why)
    report = markdown(why)
    assert "Made by `python scripts/explain.py`: 2 seeds per experiment" in report
    assert "Training: 600 s over 1 runs (the sum of their `train_seconds`); measurements: 61 s." in report
    assert "| ANN | 89.85 ± 0.07 | 89.80 ± 0.14 | -0.05 | ±0.22 |" in report
    assert "| CNN, pixels permuted | 87.00 ± 0.00 | 60.00 ± 0.00 | 30.00 ± 0.00 |" in report
    assert "| #3 | Shirt: both right | Shirt (0.70) | Shirt (0.90) |" in report
    assert (
        "Every test image moved by 0–2 pixels" in report and "a T-shirt/top and a Shirt test image" in report
    )
    assert all(f"- {line}" in report for line in why["conclusion"])
    assert "| CNN, pixels permuted | 1 | seed 1 | 87.40 | 600 |" in report


def test_bad_options_and_missing_data_are_one_line_and_write_nothing(tmp_path, fake_digests, capsys):
    with pytest.raises(SystemExit) as stop:
        explain_main(["--bogus"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "unrecognized arguments: --bogus; see" in err

    out = tmp_path / "why"
    empty = tmp_path / "no-data"
    empty.mkdir()
    code = explain_main(["--data-dir", str(empty), "--no-download", "--output-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and err.startswith("explain.py: error:") and not out.exists()


def test_an_output_folder_that_cannot_be_written_is_one_line_before_any_training(tmp_path, fake_data, capsys,
                                                                                 trained_now):  # fmt: skip
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    code = explain_main(["--data-dir", str(fake_data), "--no-download", "--output-dir", str(blocker / "why")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "a-file" in err and "--output-dir" in err
    assert trained_now == [] and blocker.read_text() == "keep me"
