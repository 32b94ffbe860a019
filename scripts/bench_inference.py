"""onnxruntime vs eager PyTorch on the same CNN, same threads, batch sizes 1, 32 and 256, side by side.

python scripts/bench_inference.py                 # a CNN of the default recipe (speed needs no training)
python scripts/bench_inference.py --ckpt checkpoints/cnn/best-epoch18-acc0.9362.ckpt --threads 2
"""

import argparse
import os
import sys

from pixelsense.bench import compare, table
from pixelsense.export import ExportError
from pixelsense.predict import positive_int

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="a pixelsense checkpoint (default: the CNN recipe, random weights)")
    parser.add_argument(
        "--threads", type=positive_int, default=os.cpu_count(), help="threads for both engines"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per batch size")
    args = parser.parse_args()
    try:
        results = compare(args.ckpt, args.threads, args.rounds)
    except ExportError as err:
        sys.exit(f"bench_inference.py: error: {err}")
    network = args.ckpt or "CNN of the default recipe"
    print(f"{network}, {args.threads} threads, median of {args.rounds} alternating rounds")
    print(table(results))
    print(f"ort_vs_torch_speedup={results[-1]['speedup']:.2f}")
