"""Export a pixelsense checkpoint to one verified, self-contained ONNX file.

python scripts/export.py --ckpt checkpoints/cnn/best-epoch18-acc0.9362.ckpt --out cnn.onnx
"""

import sys

from pixelsense.cli import export_main

if __name__ == "__main__":
    sys.exit(export_main())
