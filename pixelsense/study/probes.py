"""Measurements of what a trained network does with its input: accuracy under translation, occlusion
sensitivity, its first layer's weights and feature maps, and what weight sharing saves. Torch only, no
Lightning: each takes a plain ``nn.Module`` or a predictor (uint8 images → probabilities)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pixelsense.constants import IMAGE_SIZE
from pixelsense.infer import looks
from pixelsense.study.evaluate import Predictor
from pixelsense.train.data import normalize
from pixelsense.train.nets import CNN, PixelPermutation


def shift(images: Tensor, dy: int, dx: int) -> Tensor:
    """``looks.shift`` on a tensor of pictures."""
    return torch.from_numpy(looks.shift(images.numpy(), dy, dx))


def numpy_predict(predict: Predictor) -> looks.Predict:
    """A torch predictor as ``looks`` takes one: numpy pictures in, numpy probabilities out."""
    return lambda pictures: predict(torch.from_numpy(pictures)).numpy()


def shift_accuracy(predict: Predictor, images: Tensor, labels: Tensor, pixels: Sequence[int]) -> list[float]:
    """Accuracy at each shift distance, averaged over the 8 directions (diagonals move that many pixels
    along both axes); distance 0 is the images as they are."""

    def accuracy(x: Tensor) -> float:
        return (predict(x).argmax(1) == labels).double().mean().item()

    def at(k: int) -> float:
        moved = [shift(images, dy * k, dx * k) for dy, dx in looks.DIRECTIONS] if k else [images]
        return sum(map(accuracy, moved)) / len(moved)

    return [at(k) for k in pixels]


def occlusion_map(predict: Predictor, image: Tensor, label: int) -> Tensor:
    """``looks.occlusion_map`` (the server's too) on a tensor picture, with a torch predictor."""
    return torch.from_numpy(looks.occlusion_map(numpy_predict(predict), image.numpy(), label))


def _first(net: nn.Module, kind: type[nn.Module]) -> nn.Module:
    return next(m for m in net.modules() if isinstance(m, kind))


def strongest_units(net: nn.Module, count: int) -> tuple[Tensor, Tensor]:
    """The ``count`` first-layer units of an ANN with the largest weight norm: (unit indices, their
    weights as ``[count, 28, 28]`` images, in the images' own layout even behind a PixelPermutation)."""
    weight = _first(net, nn.Linear).weight.detach().float()
    units = weight.norm(dim=1).topk(count).indices
    pictures = weight[units].reshape(count, 1, IMAGE_SIZE, IMAGE_SIZE)
    permutation = next((m for m in net.modules() if isinstance(m, PixelPermutation)), None)
    if permutation is not None:  # column i of the weights reads pixel order[i]
        pictures = permutation.inverse(pictures)
    return units, pictures[:, 0]


def conv_filters(net: nn.Module) -> Tensor:
    """The first convolution's kernels of a one-channel input, ``[C, k, k]``."""
    return _first(net, nn.Conv2d).weight.detach().float()[:, 0]


def feature_maps(net: nn.Module, image: Tensor) -> Tensor:
    """What the CNN's first block (conv → norm → ReLU) makes of one uint8 image: ``[C, 28, 28]``."""
    layers = list(_first(net, CNN).layers)
    block = nn.Sequential(*layers[: next(i for i, m in enumerate(layers) if isinstance(m, nn.ReLU)) + 1])
    with torch.inference_mode():
        return block.eval()(normalize(image[None]))[0].float()


def weight_sharing(net: nn.Module) -> dict:
    """Parameters of the network, of its convolutions, and what those convolutions would need without
    weight sharing (a locally connected layer: its own kernel at every output position)."""
    positions: dict[nn.Module, int] = {}
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]

    def count(conv: nn.Module, _, out: Tensor) -> None:
        positions[conv] = out.shape[-2] * out.shape[-1]

    hooks = [c.register_forward_hook(count) for c in convs]
    with torch.inference_mode():
        net.eval()(torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE))
    for hook in hooks:
        hook.remove()
    conv = sum(p.numel() for c in convs for p in c.parameters())
    return {
        "params": sum(p.numel() for p in net.parameters()),
        "conv_params": conv,
        "conv_params_unshared": sum(p.numel() * positions[c] for c in convs for p in c.parameters()),
        "first_layer_params": sum(p.numel() for p in _first(net, (nn.Linear, nn.Conv2d)).parameters()),
    }
