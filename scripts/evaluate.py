"""The classification report and figures of one model on the official test set.

python scripts/evaluate.py --onnx checkpoints/cnn.onnx      # the shipped model, with onnxruntime
python scripts/evaluate.py --ckpt checkpoints/cnn/best-*.ckpt  # a checkpoint you trained, with torch
"""

import sys

from pixelsense.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
