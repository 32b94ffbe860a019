"""The benchmarks run end to end on tiny fake data and end with their name=ratio line. Speed itself is
never asserted here: the machines are shared; the README's figures come from the full runs."""

from __future__ import annotations

import math
import re

import pytest
import torch

from pixelsense.bench.bare import BareLoop
from pixelsense.cli import bench_main
from pixelsense.cli.fit_options import parse_config
from pixelsense.infer.decoding import cores
from pixelsense.train.run import build


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def test_train_bench_times_both_models_against_the_bare_loop(fake_data, capsys):
    assert bench_main(["train", "--rounds", "1", "--data-dir", str(fake_data), "--no-download"]) == 0
    out = lines(capsys)
    rows = [line.split() for line in out if re.match(r"(ann|cnn) +cpu ", line)]
    assert [row[0] for row in rows] == ["ann", "cnn"]
    assert all(float(row[3]) > 0 and float(row[4]) > 0 for row in rows)
    assert out[-1] == "lightning_overhead=" + max((row[5] for row in rows), key=float)  # the worse model
    phases = {}  # (model, side) -> the phases' milliseconds: training, validation, the epoch's end
    for line in out:
        if found := re.fullmatch(r"(ann|cnn) +(fit\.py|bare loop) +(.*)", line):
            phases[found[1], found[2]] = found[3].split()
    assert sorted(phases) == [(m, side) for m in ("ann", "cnn") for side in ("bare loop", "fit.py")]
    for (_, side), cells in phases.items():
        assert len(cells) == 3 and float(cells[0]) > 0 and float(cells[1]) > 0
        # Only fit.py has an epoch's end (logging, checkpoints); the bare loop's epoch runs inside it, apart.
        assert float(cells[2]) > 0 if side == "fit.py" else cells[2] == "-"


def test_data_bench_times_the_datamodule_against_torchvision(fake_data, capsys):
    assert bench_main(["data", "--rounds", "1", "--data-dir", str(fake_data), "--no-download"]) == 0
    out = lines(capsys)
    assert any(line.startswith("pixelsense ") for line in out)
    assert any(line.startswith("torchvision, 0 workers") for line in out)
    assert any(line.startswith("torchvision, 2 workers") for line in out)
    assert any(line.startswith("ANN training epoch fed by") for line in out)
    assert re.fullmatch(r"data_path_speedup=\d+\.\d", out[-1])


def test_inference_bench_keeps_its_speedup_line(capsys):
    assert bench_main(["inference", "--rounds", "1", "--threads", "1"]) == 0
    out = lines(capsys)
    assert [line.split()[0] for line in out[2:5]] == ["1", "32", "256"]
    assert re.fullmatch(r"ort_vs_torch_speedup=\d+\.\d\d", out[-1])


def test_predict_bench_times_a_folder_and_arrays_for_each_model(fake_data, capsys):
    argv = ["predict", "--photos", "100", "--arrays", "300", "--rounds", "1", "--workers", str(min(2, cores())),
            "--data-dir", str(fake_data), "--no-download"]  # fmt: skip
    assert bench_main(argv) == 0
    out = lines(capsys)
    rows = [line.split() for line in out if line.startswith(("ann.onnx", "cnn.onnx"))]
    assert len(rows) == 6 and all(float(row[-1]) > 0 for row in rows)
    folder = [float(row[-1]) for row in rows if "JPEG" in row]
    engine = [float(row[-1]) for row in rows if "JPEG" not in row]
    assert re.fullmatch(r"folder_vs_naive_decode=\d+\.\d\d", out[-2])
    assert float(out[-2].split("=")[1]) == pytest.approx(1 / max(folder), abs=0.02)  # the worse model
    assert out[-1] == f"predict_vs_engine={max(engine):.2f}"


def test_bad_bench_options_are_one_line(capsys):
    for argv in (["nope"], ["train", "--rounds", "0"], ["train", "--models", "mlp"]):
        with pytest.raises(SystemExit) as exit:
            bench_main(argv)
        assert exit.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ": error: " in err[0] and err[0].endswith("--help.")


def test_bare_loop_is_the_same_network_optimiser_and_schedule(fake_data):
    cfg = parse_config(
        ["--model", "cnn", "--data-dir", str(fake_data), "--no-download", "--batch-size", "64"]
    )
    module, data = build(cfg)
    data.setup("fit")
    steps = math.ceil(len(data.train_set) / cfg.batch_size) * 3
    bare = BareLoop(cfg, data.train_set, data.val_set, torch.device("cpu"), "32-true", steps)
    assert [p.shape for p in bare.net.parameters()] == [p.shape for p in module.net.parameters()]

    class Trainer:
        estimated_stepping_batches = steps

    module.trainer = Trainer()
    theirs = module.configure_optimizers()["optimizer"]
    mine = bare.optimizer
    assert type(mine) is type(theirs) and mine.defaults == theirs.defaults
    assert [(g["lr"], g["weight_decay"], len(g["params"])) for g in mine.param_groups] == [
        (g["lr"], g["weight_decay"], len(g["params"])) for g in theirs.param_groups
    ]
    bare.epoch()
    assert bare.schedule.last_epoch == steps // 3  # the schedule steps with the optimiser


def test_bare_loop_learns(fake_data):
    cfg = parse_config(["--model", "ann", "--data-dir", str(fake_data), "--no-download", "--batch-size", "32",
                        "--lr", "0.01"])  # fmt: skip
    _, data = build(cfg)
    data.setup("fit")
    steps = math.ceil(len(data.train_set) / cfg.batch_size) * 3
    bare = BareLoop(cfg, data.train_set, data.val_set, torch.device("cpu"), "32-true", steps)
    accuracies = [bare.epoch() for _ in range(3)]  # the fake images are learnable from their brightness
    assert accuracies[-1] > 0.5  # chance: 0.1


def test_serve_bench_drives_both_servers_at_each_concurrency(fake_data, capsys):
    assert (
        bench_main(
            ["serve", "--requests", "64", "--rounds", "1", "--data-dir", str(fake_data), "--no-download"]
        )
        == 0
    )
    out = lines(capsys)
    rows = [line.split() for line in out if line.startswith(("pixelsense ", "naive "))]
    assert [(row[0], int(row[1])) for row in rows] == [
        (side, level) for level in (1, 8, 32) for side in ("pixelsense", "naive")
    ]
    assert all(float(row[2]) > 0 and row[-1] == "0" for row in rows)  # req/s, and no errors
    top = {row[0]: float(row[2]) for row in rows if row[1] == "32"}
    assert re.fullmatch(r"serve_vs_naive=\d+\.\d\d", out[-1])
    assert float(out[-1].split("=")[1]) == pytest.approx(top["pixelsense"] / top["naive"], abs=0.01)
    assert re.match(
        r"pixelsense-serve memory, all processes: \d+ MB once warm, \d+ MB after 192 requests", out[-2]
    )
