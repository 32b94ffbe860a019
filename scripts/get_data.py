"""Put the verified Fashion-MNIST IDX files in <data-dir>/FashionMNIST/raw/.

python scripts/get_data.py                 # from data/, Debian's dataset-fashion-mnist, or the download
python scripts/get_data.py --no-download   # local copies only
"""

import argparse
import sys

from pixelsense.sources import DataError, ensure_fashion_mnist

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="where the data goes (default: data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    try:
        raw = ensure_fashion_mnist(args.data_dir, download=args.download)
    except DataError as err:
        sys.exit(f"get_data.py: error: {err}")
    print(f"Fashion-MNIST ready in {raw} (SHA-256 verified)")
