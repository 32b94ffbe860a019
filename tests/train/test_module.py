"""The LightningModule: hyperparameters, optimiser groups, learning-rate shapes, test report."""

from __future__ import annotations

import pytest
import torch

from pixelsense.constants import CLASSES
from pixelsense.train.module import Classifier
from pixelsense.train.optim import cosine, one_cycle


def test_hyperparameters_are_primitives_only():
    model = Classifier(arch="ann", hidden=(64,), dropout=0.1)
    allowed = (str, int, float, bool, tuple, type(None))  # None: an option that is off (permute_pixels)
    assert all(isinstance(v, allowed) for v in model.hparams.values())
    assert model.hparams.arch == "ann" and model.hparams.hidden == (64,)
    assert model.example_input_array.shape == (2, 1, 28, 28)
    assert model(model.example_input_array).shape == (2, 10)


def test_unknown_choices_are_refused():
    with pytest.raises(ValueError, match="unknown architecture 'mlp'"):
        Classifier(arch="mlp")
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        Classifier(schedule="step")


def test_learning_rate_shapes():
    assert one_cycle(0.0) == pytest.approx(1 / 25)
    assert one_cycle(0.3) == pytest.approx(1.0)
    assert one_cycle(1.0) == pytest.approx(0.0, abs=1e-12)
    ramp = [one_cycle(p / 100) for p in range(31)]
    decay = [one_cycle(p / 100) for p in range(30, 101)]
    assert ramp == sorted(ramp) and decay == sorted(decay, reverse=True)
    assert (cosine(0.0), cosine(0.5), cosine(1.0)) == pytest.approx((1.0, 0.5, 0.0))
    assert cosine(1.5) == pytest.approx(0.0)  # past the end it stays at the floor


def test_weight_decay_skips_biases_and_norms():
    model = Classifier(arch="cnn", channels=(4, 8), hidden=(16,), weight_decay=0.1)

    class Trainer:
        estimated_stepping_batches = 10

    model.trainer = Trainer()  # type: ignore[assignment]
    optimizer = model.configure_optimizers()["optimizer"]
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    total = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    assert total == sum(p.numel() for p in model.parameters())


# The hook runs without a Trainer here; Lightning says so when the epoch values are logged, and skips them.
@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_test_report_is_per_class_with_support_from_the_confusion_matrix():
    model = Classifier(arch="ann", hidden=(8,))
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    logits = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 2, 2, 0]), 10).float()
    for metric in (model.test_acc, model.test_scores, model.test_per_class):
        metric.update(logits, labels)
    model.test_loss.update(torch.tensor(0.5), len(labels))
    model.test_confusion.update(logits.argmax(1), labels)
    model.test_mistakes.update(torch.arange(6.0)[:, None, None].expand(6, 28, 28), labels, logits.softmax(1))
    model.on_test_epoch_end()
    report = model.test_report
    shown = model.shown_mistakes  # rows 1 (T-shirt → Trouser) and 5 (Pullover → T-shirt) are wrong
    assert sorted(shown.images[:, 0, 0].tolist()) == [1.0, 5.0] and len(model.test_mistakes.true) == 0
    assert report["accuracy"] == pytest.approx(4 / 6) and report["macro"]["support"] == 6
    assert report["confusion_matrix"][0][:3] == [1, 1, 0] and report["confusion_matrix"][2][:3] == [1, 0, 2]
    t_shirt, trouser, pullover = (report["per_class"][CLASSES[i]] for i in range(3))
    assert (t_shirt["support"], trouser["support"], pullover["support"]) == (2, 1, 3)
    assert t_shirt["precision"] == pytest.approx(0.5) and t_shirt["recall"] == pytest.approx(0.5)
    assert trouser["precision"] == pytest.approx(0.5) and trouser["recall"] == pytest.approx(1.0)
    assert pullover["f1"] == pytest.approx(0.8)


def test_class_defaults_are_the_default_recipes():
    import inspect

    from pixelsense.train.config import RECIPES
    from pixelsense.train.data import FashionMNISTDataModule
    from pixelsense.train.nets import ANN, CNN

    def defaults(obj) -> dict:
        return {k: p.default for k, p in inspect.signature(obj).parameters.items()}

    cnn, ann = RECIPES["cpu"]["cnn"], RECIPES["cpu"]["ann"]
    for obj, recipe in [(Classifier, cnn), (FashionMNISTDataModule, cnn)]:
        shared = defaults(obj).keys() & recipe.keys()
        assert shared and {k: defaults(obj)[k] for k in shared} == {k: recipe[k] for k in shared}, obj
    for net, recipe in [(CNN, cnn), (ANN, ann)]:  # plain networks: their caller passes the widths
        shared = defaults(net).keys() & recipe.keys()
        assert shared and all(defaults(net)[k] is inspect.Parameter.empty for k in shared), net


def test_mistakes_of_every_rank_are_merged():
    """What torchmetrics does with the states of the other ranks under DDP (``dist_reduce_fx="cat"``)."""
    from pixelsense.train.report import ConfidentMistakes

    def rank(images, true, predicted, confidence) -> ConfidentMistakes:
        probabilities = torch.zeros(len(true), 10)
        probabilities[torch.arange(len(true)), torch.tensor(predicted)] = torch.tensor(confidence)
        metric = ConfidentMistakes(k=3)
        metric.update(images, torch.tensor(true), probabilities)
        return metric

    mine = rank(torch.full((1, 28, 28), 1.0), [0], [1], [0.6])
    other = rank(
        torch.arange(2.0, 5.0)[:, None, None].expand(3, 28, 28), [2, 3, 4], [5, 6, 7], [0.9, 0.5, 0.7]
    )
    mine.merge_state(other)
    merged = mine.compute()
    assert merged.images[:, 0, 0].tolist() == [2.0, 4.0, 1.0]  # confidences 0.9, 0.7, 0.6
    assert merged.confidence.tolist() == pytest.approx([0.9, 0.7, 0.6]) and merged.true.tolist() == [2, 4, 0]
