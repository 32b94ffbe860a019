"""pixelsense: Fashion-MNIST with an ANN baseline and a CNN, on PyTorch Lightning.

The folders say what a module may import (import-linter checks it, ``make lint``): ``cli`` → ``bench`` →
``study`` → ``train`` → ``infer`` → the ground here (``constants``, ``errors``, ``files``, ``formats``,
``paths``, ``signals``: standard library only). ``infer`` and the ground are the light install, without torch.
"""

from pixelsense.errors import PixelsenseError

__version__ = "0.1.0"
__all__ = ["PixelsenseError", "__version__"]
