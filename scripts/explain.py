"""Why the CNN wins: controlled experiments (pixel permutation, translation with the same augmentation),
what each network learns and where it looks. Writes why.md, why.json and figures to reports/why/.

python scripts/explain.py                 # 2 seeds per experiment, reusing finished runs
python scripts/explain.py --quick         # every run 1 epoch: the whole pipeline in minutes
"""

import sys

from pixelsense.cli import explain_main

if __name__ == "__main__":
    sys.exit(explain_main())
