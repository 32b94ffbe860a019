"""Torch-free inference: what ``pip install pixelsense`` runs (numpy, Pillow, simplejpeg, onnxruntime,
tqdm).

Inputs (image files, IDX files, .npy arrays) become 28×28 images in the data set's form (``photo``,
``images``, ``arrays``, ``inputs``, ``decoding``), a pixelsense ONNX model predicts them (``engine``), and
``predict`` writes the rows (``output``) and the accuracy (``labels``). May import the ground
(``pixelsense.errors``, ``files``, ``paths``, ``signals``, ``constants``) and nothing else of pixelsense;
never torch (import-linter checks both).
"""
