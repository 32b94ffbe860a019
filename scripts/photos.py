"""How predict.py does on photos: synthetic photo sets made from test items, scored with no flag.

python scripts/photos.py --json checkpoints/photos/photos.json --figure checkpoints/photos/conversion.png
"""

import sys

from pixelsense.cli import photos_main

if __name__ == "__main__":
    sys.exit(photos_main())
