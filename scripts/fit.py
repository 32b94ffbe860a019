"""Train the ANN or the CNN on Fashion-MNIST.

python scripts/fit.py --model cnn            # the default recipe; --help lists every option
python scripts/fit.py --model ann --epochs 1 --fast-dev-run
"""

import sys

from pixelsense.cli import fit_main

if __name__ == "__main__":
    sys.exit(fit_main())
