"""pixelsense: Fashion-MNIST with an ANN baseline and a CNN, on PyTorch Lightning."""

from pixelsense.errors import PixelsenseError

__version__ = "0.1.0"
__all__ = ["PixelsenseError", "__version__"]
