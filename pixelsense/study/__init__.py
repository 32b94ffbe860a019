"""What is built on trained models: evaluation (``evaluate``), the ANN-against-CNN comparison (``runs``,
``compare``, ``summary``), the experiments behind "why the CNN wins" (``explain``, ``probes``, ``why_report``,
``why_figures``) and the photo sets that score predict.py on photos (``photosets``, ``photo_report``).

Needs ``pip install "pixelsense[train]"``. May import ``train``, ``infer`` and the ground, never ``bench`` or
``cli``.
"""
