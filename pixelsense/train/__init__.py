"""The Lightning side: verified data (``sources``, ``data``), the plain networks (``nets``), the system around
them (``module``, ``optim``, ``graphs``, ``report``, ``plots``), a run's settings (``config``, ``checks``,
``hardware``), the run itself (``run``, ``resume``, ``callbacks``, ``checkpoint_io``, ``checkpoints``) and the
verified ONNX export (``export``).

Needs ``pip install "pixelsense[train]"``. May import ``pixelsense.infer`` and the ground, never ``study``,
``bench`` or ``cli``. Importing this package imports nothing heavy: each module imports torch itself.
"""
