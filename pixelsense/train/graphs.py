"""A training batch's forward and backward replayed as CUDA graphs.

A Fashion-MNIST step runs about a hundred small operations (a torch.profiler count of one bare-loop step on
the CPU: 115 for the CNN, 56 for the ANN); on a GPU, launching them from Python takes longer than running
them (an eager CNN step of 512 images on an H100: about 4 ms, with the GPU about 20 % busy). A
CUDA graph records the launches once and replays them in one call. ``torch.cuda.make_graphed_callables``
graphs the forward (input transform, network, loss) and the backward of a module; the optimizer step and
everything else stay eager.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

# Lightning precisions under which the graph is recorded: their autocast dtype (None: no autocast). Others
# ("16-mixed" with its gradient scaler) run eager.
AUTOCAST = {"bf16-mixed": torch.bfloat16, "32-true": None, "32": None, "bf16-true": None, "16-true": None}
Transform = Callable[[Tensor], Tensor]


def training_loss(net: nn.Module, loss: nn.Module, transform: Transform, images: Tensor,
                  labels: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """(loss, logits) of a training batch: ``transform`` makes the network input (normalised, augmented)."""
    logits = net(transform(images))
    return loss(logits, labels), logits


class _Step(nn.Module):
    """``training_loss`` as a module, for make_graphed_callables (which graphs a module's parameters)."""

    def __init__(self, net: nn.Module, loss: nn.Module, transform: Transform) -> None:
        super().__init__()
        self.net, self.loss, self.transform = net, loss, transform

    def forward(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return training_loss(self.net, self.loss, self.transform, images, labels)


class GraphedStep:
    """``training_loss`` for batches shaped like the sample, as CUDA graphs; call it as ``training_loss``'s
    last two arguments. Other shapes (an epoch's last, smaller batch) are not its to run."""

    def __init__(self, net: nn.Module, loss: nn.Module, transform: Transform, images: Tensor,
                 labels: Tensor, precision: str) -> None:  # fmt: skip
        self.shape = images.shape
        dtype = AUTOCAST[precision]
        # Recording runs a few real forward passes first, which would move BatchNorm's running statistics.
        buffers = [(b, b.clone()) for b in net.buffers()]
        # make_graphed_callables refuses autocast's weight cache (Lightning's own autocast has it off).
        autocast = torch.autocast(
            "cuda", dtype or torch.float32, enabled=dtype is not None, cache_enabled=False
        )
        with autocast:
            # Copies: the samples become the graph's input buffers, which every replay overwrites.
            samples = (images.clone(), labels.clone())
            self._graphed = torch.cuda.make_graphed_callables(_Step(net, loss, transform), samples)
        with torch.no_grad():
            for buffer, before in buffers:
                buffer.copy_(before)

    def fits(self, images: Tensor) -> bool:
        return images.shape == self.shape

    def __call__(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return self._graphed(images, labels)


def can_graph(x: Tensor, precision: str, world_size: int) -> bool:
    """Whether training batches like ``x`` can be replayed as graphs: on one CUDA GPU (DDP's gradient
    hooks are not captured), under a precision in ``AUTOCAST``."""
    return x.is_cuda and world_size == 1 and precision in AUTOCAST
