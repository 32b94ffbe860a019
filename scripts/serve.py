"""Serve pixelsense ONNX models over HTTP: a JSON API under /api/v1/ and a page at / (no torch needed).

python scripts/serve.py                           # the shipped ANN and CNN on http://127.0.0.1:8000/
python scripts/serve.py --models my.onnx --port 9000
"""

import sys

from pixelsense.cli import serve_main

if __name__ == "__main__":
    sys.exit(serve_main())
