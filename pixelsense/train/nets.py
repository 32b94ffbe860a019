"""The two networks as plain ``nn.Module``s (no Lightning here): input is a normalised
``[N, 1, 28, 28]`` float batch, output is 10 logits. Their widths are the caller's: a run's come from
``config.RECIPES``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pixelsense.constants import ARCHS, IMAGE_SIZE, NUM_CLASSES


def dense_head(features: int, hidden: tuple[int, ...], dropout: float) -> list[nn.Module]:
    """(Linear → ReLU → Dropout) per hidden size, then a Linear to the 10 logits."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(features, size), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        features = size
    return [*layers, nn.Linear(features, NUM_CLASSES)]


class ANN(nn.Module):
    """Baseline MLP on flattened pixels: (Linear → ReLU → Dropout) per hidden size → 10 logits."""

    def __init__(self, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), *dense_head(IMAGE_SIZE * IMAGE_SIZE, hidden, dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class CNN(nn.Module):
    """Per channel width: (Conv3x3 → BatchNorm → ReLU) × ``convs`` → MaxPool2d(2);
    then flatten → Linear → ReLU → Dropout per hidden size → 10 logits."""

    def __init__(
        self,
        channels: tuple[int, ...],
        hidden: tuple[int, ...],
        dropout: float,
        convs: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width, side = 1, IMAGE_SIZE
        for out in channels:
            for _ in range(convs):
                layers += [
                    nn.Conv2d(width, out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out),
                    nn.ReLU(inplace=True),
                ]
                width = out
            layers.append(nn.MaxPool2d(2))
            side //= 2
        self.layers = nn.Sequential(*layers, nn.Flatten(), *dense_head(width * side * side, hidden, dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def pixel_permutation(seed: int) -> Tensor:
    """One fixed random order of the IMAGE_SIZE² pixel positions, drawn from ``seed``."""
    return torch.randperm(IMAGE_SIZE * IMAGE_SIZE, generator=torch.Generator().manual_seed(seed))


class PixelPermutation(nn.Module):
    """Moves every image's pixels by one fixed permutation: the same information in another order.

    Put in front of a network, it takes spatial structure away from it and from nothing else. The order
    is a buffer, so checkpoints and ONNX exports carry it and predict on ordinary images stays correct.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed
        self.register_buffer("order", pixel_permutation(seed))

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, 28, 28]`` → the same shape, pixel ``i`` of the output taken from pixel ``order[i]``."""
        return x.flatten(-2)[..., self.order].reshape(x.shape)

    def inverse(self, x: Tensor) -> Tensor:
        """Undo ``forward`` (also draws a permuted network's weights in the images' own layout)."""
        return x.flatten(-2)[..., self.order.argsort()].reshape(x.shape)


def build_net(
    arch: str,
    channels: tuple[int, ...],
    hidden: tuple[int, ...],
    dropout: float,
    permute_pixels: int | None = None,
) -> nn.Module:
    """The network; with ``permute_pixels``, behind a fixed pixel permutation drawn from that seed."""
    if arch == "ann":
        net = ANN(hidden=tuple(hidden), dropout=dropout)
    elif arch == "cnn":
        # channels_last runs the convolutions about 1.5x faster on CPU and suits tensor cores on GPU.
        net = CNN(channels=tuple(channels), hidden=tuple(hidden), dropout=dropout).to(
            memory_format=torch.channels_last
        )
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return net if permute_pixels is None else nn.Sequential(PixelPermutation(permute_pixels), net)
