"""The ANN against the CNN on the official test set: report.md, figures and each model's report.json.

python scripts/compare.py --seeds 3                       # trains 3 runs of each default recipe first
python scripts/compare.py --ann A.ckpt --cnn C.ckpt       # compares checkpoints you already have
"""

import sys

from pixelsense.cli import compare_main

if __name__ == "__main__":
    sys.exit(compare_main())
