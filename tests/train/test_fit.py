"""scripts/fit.py through its real entry point, in-process, on fake data: runs, checkpoints,
metrics.json, TensorBoard, --config, --resume and the clear errors."""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import N_TEST

from pixelsense.cli import fit_main
from pixelsense.cli.fit_options import parse_config
from pixelsense.constants import CLASSES
from pixelsense.train.checks import CUDA_ONLY, PRECISIONS
from pixelsense.train.config import FitConfig
from pixelsense.train.data import FashionMNISTDataModule
from pixelsense.train.module import Classifier

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, data: Path, *args: str) -> int:
    return fit_main(
        ["--data-dir", str(data), "--no-download", "--accelerator", "cpu", "--checkpoint-dir",
         str(tmp_path / "ck"), "--logdir", str(tmp_path / "runs"), "--batch-size", "128", *args]
    )  # fmt: skip


@pytest.mark.parametrize("model", ["ann", "cnn"])
def test_fast_dev_run(tmp_path, fake_data, capsys, model):
    assert run(tmp_path, fake_data, "--model", model, "--fast-dev-run") == 0
    out = capsys.readouterr().out
    assert f"pixelsense: training {model} on 1 × cpu" in out and "precision 32-true" in out
    assert f"{model.upper()} on the official test set" in out
    assert not (tmp_path / "ck" / "metrics.json").exists()  # one batch is not a result


@pytest.mark.parametrize("precision", [p for p in PRECISIONS if p not in ("auto", *CUDA_ONLY)])
def test_every_precision_fit_accepts_on_a_cpu_trains_there_as_asked(tmp_path, fake_data, capsys, precision):
    # The others (64-true, 16-true, bf16-true) cast the weights but not the float32 images: refused up front.
    assert run(tmp_path, fake_data, "--model", "cnn", "--fast-dev-run", "--precision", precision) == 0
    shown = "32-true" if precision == "32" else precision  # Lightning's name for it
    assert f"precision {shown}" in capsys.readouterr().out


def test_one_epoch_writes_checkpoints_metrics_and_logs(tmp_path, fake_data, capsys):
    args = ["--model", "ann", "--epochs", "1", "--lr", "0.01", "--no-flip"]
    assert run(tmp_path, fake_data, *args) == 0
    ck = tmp_path / "ck"
    metrics = json.loads((ck / "metrics.json").read_text())
    assert metrics["model"] == "ann" and metrics["epochs"] == 1 and metrics["recipe"] == "cpu"
    assert "cpu recipe: 1 epochs, batch 128, lr 0.01" in capsys.readouterr().out
    best = Path(metrics["best_checkpoint"])
    assert best.parent == ck and best.name.startswith("best-epoch00-acc") and (ck / "last.ckpt").is_file()

    matrix = torch.tensor(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == N_TEST
    assert metrics["test_accuracy"] == pytest.approx((matrix.trace() / N_TEST).item(), abs=1e-6)
    for i, name in enumerate(CLASSES):
        row = metrics["per_class"][name]
        assert row["support"] == matrix[i].sum()
        assert row["recall"] == pytest.approx((matrix[i, i] / matrix[i].sum()).item(), abs=1e-6)
    assert metrics["params"] == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10

    # The best checkpoint reloads on its own, weights_only, and reproduces the test accuracy.
    model = Classifier.load_from_checkpoint(best, weights_only=True, map_location="cpu").eval()
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False)
    data.setup("test")
    x, y = data.test_set.images, data.test_set.labels
    from pixelsense.train.data import normalize

    with torch.no_grad():
        accuracy = (model(normalize(x)).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)

    # The saved configuration re-runs the same run.
    saved = ck / "config.json"
    original = parse_config(["--data-dir", str(fake_data), "--no-download", "--accelerator", "cpu",
                             "--checkpoint-dir", str(ck), "--logdir", str(tmp_path / "runs"),
                             "--batch-size", "128", *args])  # fmt: skip
    assert parse_config(["--config", str(saved)]) == original
    assert parse_config(["--config", str(saved)]).lr == 0.01
    assert parse_config(["--config", str(saved), "--epochs", "3"]).epochs == 3


def _event_tags(folder: Path) -> dict[str, int]:
    """How often each summary tag was written in a TensorBoard run folder."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    counts: dict[str, int] = {}
    for path in folder.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                counts[value.tag] = counts.get(value.tag, 0) + 1
    return counts


def _scalars(folder: Path, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util.tensor_util import make_ndarray

    values = []
    for path in folder.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == tag:
                    values.append(
                        float(make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                    )
    return values


def _steps(folder: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return [
        event.step
        for path in folder.glob("events.out.tfevents.*")
        for event in EventFileLoader(str(path)).Load()
        if any(value.tag == tag for value in event.summary.value)
    ]


def test_lightning_users_get_the_epoch_values_back_from_validate_and_test(tmp_path, fake_data):
    """Lightning called directly, as a user of the LightningModule would: trainer.validate() and trainer.test()
    return every epoch value, and the logger has them at the optimizer step, the training curves' x axis."""
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import TensorBoardLogger

    model, logger = Classifier("ann", hidden=(32,)), TensorBoardLogger(tmp_path / "runs", name="ann")
    data = FashionMNISTDataModule(data_dir=str(fake_data), download=False, batch_size=64)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=data)
    for stage, evaluate in (("val", trainer.validate), ("test", trainer.test)):
        (results,) = evaluate(model, datamodule=data, verbose=False)
        assert {f"{stage}/{name}" for name in ("loss", "acc", "precision", "recall", "f1")} <= set(results)
        assert 0 <= results[f"{stage}/acc"] <= 1
    assert trainer.global_step > 1 and _steps(Path(logger.log_dir), "test/acc") == [trainer.global_step]
    assert _steps(Path(logger.log_dir), "val/f1") == [trainer.global_step] * 2  # the fit's, validate()'s


def test_tensorboard_gets_curves_lr_confusion_matrix_and_hparams(tmp_path, fake_data):
    # 300 training images in batches of 16 and 2 epochs: 38 steps, enough for per-step logging.
    assert run(tmp_path, fake_data, "--model", "cnn", "--epochs", "2", "--batch-size", "16") == 0
    version = tmp_path / "runs" / "cnn" / "version_0"
    tags = _event_tags(version)
    for tag in [
        "train/loss",
        "train/loss_epoch",
        "train/acc",
        "val/loss",
        "val/acc",
        "val/f1",
        "test/acc",
        "hp/test_acc",
    ]:
        assert tag in tags
    assert tags["val/confusion_matrix"] == 1  # one figure, at the last epoch
    assert tags["train/loss"] == 38 // 20  # a point every 20 steps (LOG_EVERY), not one a step
    assert tags["test/confusion_matrix"] == 1 and tags["test/misclassified"] == 1
    assert tags["train/lr"] == tags["train/loss"]  # the learning rate beside the loss curve
    accuracies = _scalars(version, "train/acc")  # one an epoch, from the running sums
    assert len(accuracies) == 2 and all(0.0 <= a <= 1.0 for a in accuracies)
    assert "_hparams_/session_start_info" in tags
    assert "epoch" not in tags  # Lightning's epoch counter: a straight line, TensorBoard's first card
    assert (version / "config.json").is_file()


def test_recipe_follows_the_device_unless_named():
    from pixelsense.train.config import RECIPES

    def batch(*args: str) -> tuple[str, int]:
        cfg = parse_config(["--model", "cnn", *args])
        return cfg.recipe, cfg.batch_size

    cpu, gpu = RECIPES["cpu"]["cnn"]["batch_size"], RECIPES["gpu"]["cnn"]["batch_size"]
    assert cpu != gpu
    assert batch("--accelerator", "cpu") == ("cpu", cpu)
    assert batch("--accelerator", "gpu") == ("gpu", gpu)  # resolving needs no GPU; training would
    assert batch("--accelerator", "gpu", "--recipe", "cpu") == ("cpu", cpu)
    assert batch("--accelerator", "cpu", "--recipe", "gpu", "--batch-size", "64") == ("gpu", 64)
    assert parse_config(["--model", "ann", "--recipe", "gpu"]).epochs == RECIPES["gpu"]["ann"]["epochs"]


def test_resume_continues_from_last_across_a_new_logger_version(tmp_path, fake_data, capsys):
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1") == 0
    first = torch.load(tmp_path / "ck" / "last.ckpt", weights_only=True)
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "2", "--resume") == 0
    assert "resuming from" in capsys.readouterr().out
    second = torch.load(tmp_path / "ck" / "last.ckpt", weights_only=True)
    assert (first["epoch"], second["epoch"]) == (0, 1)
    assert second["global_step"] == 2 * first["global_step"]
    assert sorted(p.name for p in (tmp_path / "runs" / "ann").iterdir()) == ["version_0", "version_1"]
    assert json.loads((tmp_path / "ck" / "metrics.json").read_text())["epochs"] == 2


def test_bad_data_is_one_line_and_exit_2(tmp_path, fake_data, capsys):
    (fake_data / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"junk")
    assert run(tmp_path, fake_data, "--model", "ann", "--fast-dev-run") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train-images-idx3-ubyte is not the Fashion-MNIST file" in err


def test_help_lists_every_option():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fit.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ["--model", "--epochs", "--batch-size", "--lr", "--seed", "--data-dir", "--accelerator",
                 "--devices", "--strategy", "--num-nodes", "--precision", "--checkpoint-dir", "--logdir",
                 "--fast-dev-run", "--resume", "--config"]:  # fmt: skip
        assert flag in out
    assert "32-true, 32, bf16-mixed, 16-mixed (a CUDA GPU only)" in " ".join(out.split())  # --precision's


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "-1", "--epochs", "0"], "--epochs must be at least 1; --lr must be above 0."),
        (["--dropout", "1.5"], "--dropout must be in [0, 1)."),
        (["--devices", "abc"], "Lightning cannot run these settings"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(tmp_path, fake_data, capsys, args, message):
    assert run(tmp_path, fake_data, "--model", "ann", "--fast-dev-run", *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_asking_for_a_missing_gpu_is_one_line(tmp_path, fake_data, capsys):
    assert run(tmp_path, fake_data, "--model", "ann", "--fast-dev-run", "--accelerator", "gpu") == 2
    assert "Lightning cannot run these settings" in capsys.readouterr().err


def test_config_of_another_model_is_refused(tmp_path, fake_data, capsys):
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1") == 0
    assert fit_main(["--config", str(tmp_path / "ck" / "config.json"), "--model", "cnn"]) == 2
    assert "is a ann run; drop --model" in capsys.readouterr().err


def test_resume_refuses_a_truncated_checkpoint(tmp_path, fake_data, capsys):
    # A finished run, or one of other widths: the rows fit-resume-already-finished and fit-resume-other-widths.
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1", "--hidden", "32") == 0
    last = tmp_path / "ck" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "2", "--hidden", "32", "--resume") == 2
    assert "last.ckpt is damaged" in capsys.readouterr().err


def test_a_new_run_into_a_folder_holding_a_run_is_refused(tmp_path, fake_data, capsys):
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1", "--hidden", "32") == 0
    folder = tmp_path / "ck"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1", "--hidden", "32", "--lr", "0.01") == 2
    err = capsys.readouterr().err
    assert f"{folder} already holds a run (last.ckpt, metrics.json, model.onnx, ...); pass --resume" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # nothing replaced
    assert run(tmp_path, fake_data, "--model", "ann", "--hidden", "32", "--fast-dev-run") == 0  # no files
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_a_resume_for_more_epochs_stopped_before_its_report_resumes(tmp_path, fake_data, capsys):
    """Resumed from 1 epoch to 2 and stopped after the second epoch, before the new report: metrics.json is
    still the 1-epoch run's, and --resume writes the 2-epoch report instead of calling the run finished."""
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1", "--hidden", "32") == 0
    report = tmp_path / "ck" / "metrics.json"
    old = report.read_text()
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "2", "--hidden", "32", "--resume") == 0
    report.write_text(old)  # as if stopped in the test, before the new report
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "2", "--hidden", "32", "--resume") == 0
    assert json.loads(report.read_text())["epochs"] == 2


def test_a_configuration_names_the_command_that_reruns_it():
    import shlex

    given = FitConfig(
        model="ann", seed=2, devices="1", flip=False, permute_pixels=3, hidden=(64, 32), lr=0.01
    )
    command = given.command_line()
    assert command.startswith("python scripts/fit.py --model ann ") and "--no-flip" in command
    assert parse_config(shlex.split(command)[2:]) == given.resolved()


def test_resume_from_a_checkpoint_that_counted_steps_the_automatic_way(tmp_path, fake_data):
    # Checkpoints written before training_step took several optimizer steps kept the count in Lightning's
    # automatic-optimization progress, and none in the manual one.
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "1") == 0
    last = tmp_path / "ck" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    loop = state["loops"]["fit_loop"]
    manual = loop["epoch_loop.manual_optimization.optim_step_progress"]
    steps = manual["total"]["completed"]
    loop["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"] = copy.deepcopy(manual)
    for part in ("total", "current"):
        manual[part] = {"ready": 0, "completed": 0}
    torch.save(state, last)
    assert run(tmp_path, fake_data, "--model", "ann", "--epochs", "2", "--resume") == 0
    assert torch.load(last, weights_only=True)["global_step"] == 2 * steps


def test_steps_per_call_changes_nothing_but_speed(tmp_path, fake_data, monkeypatch):
    # Eight batches a Lightning step train the same weights, bit for bit, as one batch a step: the same
    # batches, order, augmentation and dropout draws, and learning-rate schedule (19 steps an epoch here).
    from pixelsense.train import data

    def weights(folder: str) -> dict[str, torch.Tensor]:
        code = fit_main(
            ["--model", "cnn", "--epochs", "2", "--batch-size", "16", "--no-export", "--data-dir",
             str(fake_data), "--no-download", "--checkpoint-dir", str(tmp_path / folder), "--logdir",
             str(tmp_path / "runs")]
        )  # fmt: skip
        assert code == 0
        state = torch.load(tmp_path / folder / "last.ckpt", weights_only=True)
        assert state["global_step"] == 38  # optimizer steps, however they are grouped
        calls.append(state["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"])
        return state["state_dict"]

    calls: list[int] = []  # Lightning training steps
    grouped = weights("grouped")
    monkeypatch.setattr(data, "STEPS_PER_CALL", 1)
    one = weights("one")
    assert calls == [2 * math.ceil(19 / 8), 38]  # the grouping did change
    assert all(torch.equal(grouped[k], one[k]) for k in one)


def bests(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("best-*.ckpt"))


def test_a_moved_run_folder_resumes_with_what_it_knew(tmp_path, fake_data):
    """Lightning would keep only the old best path of a moved folder and forget its score: the next epoch
    would be "best" whatever its score, and the true best would stay beside it, untracked."""
    ann = ("--model", "ann", "--hidden", "32")
    assert run(tmp_path / "a", fake_data, *ann, "--epochs", "1", "--no-export") == 0
    (tmp_path / "a").rename(tmp_path / "b")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The dirpath has changed")  # Lightning's, when it forgets
        assert run(tmp_path / "b", fake_data, *ann, "--epochs", "2", "--no-export", "--resume") == 0
    folder = tmp_path / "b" / "ck"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(bests(folder)) == 1 and metrics["best_checkpoint"] == str(folder / bests(folder)[0])


def test_a_best_checkpoint_the_resumed_state_does_not_know_is_removed(tmp_path, fake_data):
    """A kill between an epoch's new best and its last.ckpt leaves a best that last.ckpt does not know; that
    epoch is trained again, and the folder keeps one best checkpoint, not two (or a -v1)."""
    ann = ("--model", "ann", "--hidden", "32", "--no-export")
    assert run(tmp_path, fake_data, *ann, "--epochs", "1") == 0
    folder = tmp_path / "ck"
    (folder / "metrics.json").unlink()  # not finished: killed after the epoch's best, before its last.ckpt
    orphan = folder / "best-epoch01-acc0.9999.ckpt"
    shutil.copy(folder / bests(folder)[0], orphan)
    assert run(tmp_path, fake_data, *ann, "--epochs", "2", "--resume") == 0
    assert len(bests(folder)) == 1 and not orphan.exists()


def test_a_run_continued_into_another_folder_is_left_to_lightning(tmp_path):
    """Only a folder that was moved has its paths taken along: a run continued from a folder that is still
    there starts the new folder's own best, as Lightning does (no best path to a file never written)."""
    from pixelsense.train.callbacks import Checkpoint

    old, new = tmp_path / "a", tmp_path / "b"
    old.mkdir()
    (old / "best-epoch00-acc0.5000.ckpt").write_bytes(b"weights")
    state = {"dirpath": str(old), "best_model_path": str(old / "best-epoch00-acc0.5000.ckpt"),
             "best_model_score": torch.tensor(0.5), "best_k_models": {str(old / "best-epoch00-acc0.5000.ckpt"): 0.5},
             "kth_best_model_path": "", "kth_value": None, "last_model_path": ""}  # fmt: skip
    continued = Checkpoint(dirpath=str(new), monitor="val/acc", mode="max")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's "dirpath has changed"
        continued.load_state_dict(dict(state))
    assert continued.best_model_path == state["best_model_path"] and not continued.best_k_models
    new.mkdir()
    (old / "best-epoch00-acc0.5000.ckpt").rename(new / "best-epoch00-acc0.5000.ckpt")
    old.rmdir()  # now it was moved
    moved = Checkpoint(dirpath=str(new), monitor="val/acc", mode="max")
    moved.load_state_dict(dict(state))
    assert moved.best_model_path == str(new / "best-epoch00-acc0.5000.ckpt")
    assert moved.best_k_models == {str(new / "best-epoch00-acc0.5000.ckpt"): 0.5}
