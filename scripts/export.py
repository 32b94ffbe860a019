"""Export a pixelsense checkpoint to one verified, self-contained ONNX file.

python scripts/export.py --ckpt checkpoints/cnn/best-epoch19-acc0.9370.ckpt --out cnn.onnx
"""

import sys

from pixelsense.cli import export_main

if __name__ == "__main__":
    sys.exit(export_main())
