"""Benchmarks, each side by side in one process, ending with one name=ratio line.

python scripts/bench.py train       # fit.py's training epoch against a bare PyTorch loop (ANN and CNN)
python scripts/bench.py data        # the DataModule against torchvision's FashionMNIST + DataLoader
python scripts/bench.py inference   # onnxruntime against eager torch on the same network
"""

import sys

from pixelsense.cli import bench_main

if __name__ == "__main__":
    sys.exit(bench_main())
