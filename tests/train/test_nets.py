"""Both networks are plain nn.Modules mapping [N, 1, 28, 28] to 10 logits."""

from __future__ import annotations

import pytest
import torch

from pixelsense.train import nets
from pixelsense.train.nets import ANN, CNN


@pytest.mark.parametrize(
    "net",
    [
        ANN((512, 256), 0.2),
        ANN(hidden=(64,), dropout=0.0),
        CNN((32, 64), (128,), 0.2),
        CNN((8, 16, 32), (32, 16), 0.0),
    ],
)
@pytest.mark.parametrize("batch", [1, 5])
def test_output_shape(net, batch):
    out = net.eval()(torch.randn(batch, 1, 28, 28))
    assert out.shape == (batch, 10) and out.dtype == torch.float32


def test_shapes_follow_the_arguments():
    assert [
        m.out_features for m in ANN(hidden=(100, 50), dropout=0.2).modules() if isinstance(m, torch.nn.Linear)
    ] == [
        100,
        50,
        10,
    ]
    convs = [
        m
        for m in CNN(channels=(8, 16), hidden=(16,), dropout=0.2, convs=2).modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16]
    pools = [
        m
        for m in CNN(channels=(8, 16, 32), hidden=(16,), dropout=0.2).modules()
        if isinstance(m, torch.nn.MaxPool2d)
    ]
    assert len(pools) == 3


def test_pixel_permutation_is_a_fixed_permutation_that_inverts():
    order = nets.pixel_permutation(7)
    assert sorted(order.tolist()) == list(range(784))  # every pixel once
    assert torch.equal(order, nets.pixel_permutation(7)) and not torch.equal(order, nets.pixel_permutation(8))
    layer = nets.PixelPermutation(7)
    batch = torch.randn(5, 1, 28, 28)
    moved = layer(batch)
    assert moved.shape == batch.shape and not torch.equal(moved, batch)
    assert torch.equal(moved.flatten(1)[:, 0], batch.flatten(1)[:, order[0]])  # output pixel i ← order[i]
    assert torch.equal(layer.inverse(moved), batch) and torch.equal(layer(layer.inverse(batch)), batch)
    assert torch.equal(layer(batch[:2]), moved[:2])  # the same order for every image
