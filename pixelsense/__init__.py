"""pixelsense: Fashion-MNIST with an ANN baseline and a CNN, on PyTorch Lightning."""

__version__ = "0.1.0"
