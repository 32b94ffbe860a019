"""evaluate.py and compare.py on two tiny checkpoints trained on fake IDX files; the generated conclusion."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import accept_fake_data, fake_files
from PIL import Image
from torchvision.datasets import FashionMNIST

from pixelsense.cli import compare_main, evaluate_main, fit_main
from pixelsense.constants import CLASSES
from pixelsense.study import compare, runs
from pixelsense.study.evaluate import FILES
from pixelsense.study.summary import conclusion, markdown
from pixelsense.train.resume import ResumeError


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """One epoch of each model on the fake data: {"data": dir, "ann": metrics, "cnn": metrics}."""
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        accept_fake_data(patch)
        raw = root / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name, content in fake_files().items():
            (raw / name).write_bytes(content)
        out = {"data": root / "data"}
        for model in ("ann", "cnn"):
            args = ["--model", model, "--epochs", "1", "--batch-size", "128", "--data-dir", str(root / "data"),
                    "--no-download", "--accelerator", "cpu", "--checkpoint-dir", str(root / model),
                    "--logdir", str(root / "runs")]  # fmt: skip
            assert fit_main(args) == 0
            out[model] = json.loads((root / model / "metrics.json").read_text())
    return out


@pytest.fixture
def fake_sha(monkeypatch):
    accept_fake_data(monkeypatch)


def assert_png(path: Path, min_side: int = 300) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= min_side, (path, image.size)
        image.verify()


def test_evaluate_checkpoint_and_onnx_write_the_same_report(trained, tmp_path, fake_sha, capsys):
    cnn = trained["cnn"]
    data = ["--data-dir", str(trained["data"]), "--no-download"]
    assert evaluate_main(["--ckpt", cnn["best_checkpoint"], "--output-dir", str(tmp_path / "t"), *data]) == 0
    out = capsys.readouterr().out
    assert "macro avg" in out and "weighted avg" in out and "wrote report.json" in out
    onnx_path = str(Path(cnn["best_checkpoint"]).parent / "model.onnx")
    assert evaluate_main(["--onnx", onnx_path, *data]) == 0  # default folder: beside the model
    folders = (tmp_path / "t", Path(onnx_path).with_name("model-evaluation"))
    reports = [json.loads((folder / "report.json").read_text()) for folder in folders]
    for folder in folders:
        assert all((folder / name).is_file() for name in FILES)
        assert_png(folder / "confusion_matrix.png")
        assert_png(folder / "misclassified.png", min_side=100)
    torch_report, onnx_report = reports
    assert torch_report["accuracy"] == pytest.approx(cnn["test_accuracy"], abs=1e-6)  # what fit measured
    assert onnx_report["confusion_matrix"] == torch_report["confusion_matrix"] == cnn["confusion_matrix"]
    for name in CLASSES:
        assert torch_report["per_class"][name]["f1"] == pytest.approx(cnn["per_class"][name]["f1"], abs=1e-6)
    mistakes = torch_report["most_confident_mistakes"]
    assert all(m["true"] != m["predicted"] for m in mistakes)
    data = FashionMNIST(str(trained["data"]), train=False)
    assert all(CLASSES[data.targets[m["index"]]] == m["true"] for m in mistakes)  # each one traceable
    assert [m["confidence"] for m in mistakes] == sorted((m["confidence"] for m in mistakes), reverse=True)


def test_evaluate_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    for flag in ("--ckpt", "--onnx"):  # the model is refused before any data is looked for
        args = [flag, str(tmp_path / f"junk.{flag[2:]}"), "--output-dir", str(tmp_path / "o"),
                "--data-dir", str(tmp_path / "data"), "--no-download"]  # fmt: skip
        code = evaluate_main(args)
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and f"junk.{flag[2:]}" in err, err
    assert not (tmp_path / "o").exists() and not (tmp_path / "data").exists()


def test_evaluate_blames_the_right_folder_and_writes_all_files_or_none(trained, tmp_path, fake_sha, capsys):
    ckpt = trained["ann"]["best_checkpoint"]
    (tmp_path / "file").write_text("not a folder")
    code = evaluate_main(["--ckpt", ckpt, "--data-dir", str(tmp_path / "file"), "--no-download"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and str(tmp_path / "file") in err and "--output-dir" not in err
    (tmp_path / "out" / "report.md").mkdir(parents=True)  # in the way of one of the four files
    args = [
        "--ckpt",
        ckpt,
        "--data-dir",
        str(trained["data"]),
        "--no-download",
        "--output-dir",
        str(tmp_path / "out"),
    ]
    assert evaluate_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path / "out" / "report.md") in err and "--output-dir" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.md"]  # no other file written


def test_compare_from_two_checkpoints_writes_every_file(trained, tmp_path, fake_sha, capsys):
    args = ["--ann", trained["ann"]["best_checkpoint"], "--cnn", trained["cnn"]["best_checkpoint"],
            "--output-dir", str(tmp_path / "cmp"), "--data-dir", str(trained["data"]), "--threads", "1"]  # fmt: skip
    assert compare_main(args) == 0
    assert "The CNN" in capsys.readouterr().out
    for name in compare.FILES:
        assert (tmp_path / "cmp" / name).is_file(), name
    assert_png(tmp_path / "cmp" / "confusion_matrices.png")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    assert_png(tmp_path / "cmp" / "per_class_f1.png")
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "## Conclusion" in report and all(f"| {name} |" in report for name in CLASSES)
    ann = json.loads((tmp_path / "cmp" / "ann" / "report.json").read_text())
    assert ann["model"] == "ann" and ann["params"] == trained["ann"]["params"]
    assert ann["runs"][0]["accuracy"] == pytest.approx(trained["ann"]["test_accuracy"], abs=1e-6)
    assert ann["runs"][0]["train_seconds"] == trained["ann"]["train_seconds"] and ann["onnx_img_per_s"] > 0


def test_compare_refuses_swapped_checkpoints(trained, tmp_path, fake_sha, capsys):
    args = ["--ann", trained["cnn"]["best_checkpoint"], "--cnn", trained["ann"]["best_checkpoint"],
            "--output-dir", str(tmp_path / "cmp"), "--data-dir", str(trained["data"]), "--threads", "1"]  # fmt: skip
    assert compare_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds the CNN, but was given to --ann" in err
    assert not (tmp_path / "cmp").exists()
    # A mixed list, or one run given twice, is refused before any evaluation too.
    ann, cnn = trained["ann"]["best_checkpoint"], trained["cnn"]["best_checkpoint"]
    for given, says in [((ann, cnn), "holds the CNN"), ((ann, ann), "is given twice")]:
        mixed = ["--ann", *given, "--cnn", cnn, "--output-dir", str(tmp_path / "cmp"), "--no-download"]
        assert compare_main(mixed) == 2 and says in capsys.readouterr().err


def _result(arch: str, f1: dict[str, float], accuracy: float, params: int) -> dict:
    stat = lambda v: {"mean": v, "std": 0.0, "n": 1}  # noqa: E731
    matrix = [[0.0] * 10 for _ in range(10)]
    matrix[6][0], matrix[0][6], matrix[4][2] = (
        120.0,
        90.0,
        60.0,
    )  # Shirt → T-shirt, T-shirt → Shirt, Coat → Pullover
    summary = {"accuracy": stat(accuracy), **{k: stat(accuracy) for k in ("precision", "recall", "f1")},
               "train_seconds": stat(100.0), "onnx_img_per_s": stat(1000.0),
               "per_class_f1": {c: stat(f1[c]) for c in CLASSES}, "confusion_matrix_mean": matrix}  # fmt: skip
    run = {"checkpoint": f"{arch}.ckpt", "seed": 0, "accuracy": accuracy}
    return {"model": arch, "params": params, "runs": [run], "onnx_img_per_s": 1000.0, "onnx_threads": 2,
            "summary": summary}  # fmt: skip


def test_the_conclusion_follows_the_numbers():
    ann_f1 = dict(zip(CLASSES, [0.85, 0.98, 0.82, 0.90, 0.82, 0.97, 0.72, 0.95, 0.97, 0.96], strict=True))
    cnn_f1 = {c: v + 0.01 for c, v in ann_f1.items()} | {"Pullover": 0.91, "Coat": 0.90, "Shirt": 0.79}
    ann, cnn = _result("ann", ann_f1, 0.898, 535_818), _result("cnn", cnn_f1, 0.933, 421_738)
    text = " ".join(conclusion(ann, cnn))
    assert "The CNN beats the ANN" in text and "93.30% against 89.80%" in text and "+3.50 points" in text
    assert "help most on Pullover (+0.090), Coat (+0.080), Shirt (+0.070)" in text
    assert "weakest classes are Shirt (0.720), Pullover (0.820), Coat (0.820), T-shirt/top (0.850)" in text
    assert "Shirt stays the CNN's hardest class" in text and "Shirt → T-shirt/top (ANN 120, CNN 120)" in text

    worse = copy.deepcopy(cnn)
    worse["summary"]["accuracy"]["mean"] = 0.88
    worse["summary"]["per_class_f1"]["Bag"]["mean"] = 0.90
    changed = " ".join(conclusion(ann, worse))
    assert "The CNN does not beat the ANN" in changed and "worse than the ANN on Bag" in changed
    assert changed != text
    assert "## Conclusion" in markdown(ann, cnn) and "| Shirt | 0.720 | 0.790 | +0.070 |" in markdown(
        ann, cnn
    )


def test_compare_trains_only_the_runs_it_does_not_have(tmp_path, trained_now):
    first = runs.train_runs(2, tmp_path, log=lambda _: None)
    trained = [(cfg.model, cfg.seed) for cfg in trained_now]
    assert trained == [("ann", 0), ("ann", 1), ("cnn", 0), ("cnn", 1)] and len(first["cnn"]) == 2
    # A run of another recipe in the same folder is not taken for a finished one.
    stale = runs.run_dir(tmp_path, "cnn", 1) / "metrics.json"
    metrics = json.loads(stale.read_text())
    metrics["config"]["lr"] = 0.5
    stale.write_text(json.dumps(metrics))
    trained_now.clear()
    again = runs.train_runs(3, tmp_path, log=lambda _: None)
    assert [(cfg.model, cfg.seed) for cfg in trained_now] == [("ann", 2), ("cnn", 1), ("cnn", 2)]
    assert [m["config"]["seed"] for m in again["ann"]] == [0, 1, 2]


def test_a_run_folder_stopped_before_its_report_is_resumed_and_another_run_is_kept(tmp_path, trained_now,
                                                                                  monkeypatch):  # fmt: skip
    folder = runs.run_dir(tmp_path, "ann", 0)
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(b"an interrupted run")
    runs.train_run("ann", 0, tmp_path, log=lambda _: None)
    assert [cfg.resume for cfg in trained_now] == [True]  # goes on from last.ckpt, not over it

    def refused(cfg, command=""):
        raise ResumeError(
            f"{cfg.checkpoint_dir}/last.ckpt was trained with --lr 0.5, not --lr 0.002; resume ..."
        )

    monkeypatch.setattr("pixelsense.train.run.fit", refused)
    with pytest.raises(runs.RunError, match=r"ann-seed1 holds a run this one cannot reuse or go on with \(.*"
                       r"--lr 0\.5, not --lr 0\.002\); move that folder away"):  # fmt: skip
        runs.train_run("ann", 1, tmp_path, log=lambda _: None)
