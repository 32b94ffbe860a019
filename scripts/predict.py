"""Classify images with a pixelsense ONNX model through onnxruntime (no torch needed).

python scripts/predict.py --model checkpoints/cnn.onnx photos/ more/*.png data.npy t10k-images-idx3-ubyte.gz
"""

import sys

from pixelsense.cli import predict_main

if __name__ == "__main__":
    sys.exit(predict_main())
