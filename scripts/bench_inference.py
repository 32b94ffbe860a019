"""onnxruntime vs eager PyTorch on the same CNN, same threads, batch sizes 1, 32 and 256, side by side.

python scripts/bench_inference.py                 # a CNN of the default recipe (speed needs no training)
python scripts/bench_inference.py --ckpt checkpoints/cnn/best-epoch18-acc0.9362.ckpt --threads 2
"""

import argparse
import os

from pixelsense.bench import compare, table

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="a pixelsense checkpoint (default: the CNN recipe, random weights)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both engines")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per batch size")
    args = parser.parse_args()
    results = compare(args.ckpt, args.threads, args.rounds)
    network = args.ckpt or "CNN of the default recipe"
    print(f"{network}, {args.threads} threads, median of {args.rounds} alternating rounds")
    print(table(results))
    print(f"ort_vs_torch_speedup={results[-1]['speedup']:.2f}")
