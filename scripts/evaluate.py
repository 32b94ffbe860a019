"""The classification report and figures of one model on the official test set.

python scripts/evaluate.py --ckpt checkpoints/cnn/best-epoch18-acc0.9362.ckpt
python scripts/evaluate.py --onnx checkpoints/cnn.onnx
"""

import sys

from pixelsense.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
