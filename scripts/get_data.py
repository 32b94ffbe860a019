"""Put the verified Fashion-MNIST IDX files in <data-dir>/FashionMNIST/raw/.

python scripts/get_data.py                 # from data/, Debian's dataset-fashion-mnist, or the download
python scripts/get_data.py --no-download   # local copies only
"""

import sys

from pixelsense.cli import get_data_main

if __name__ == "__main__":
    sys.exit(get_data_main())
