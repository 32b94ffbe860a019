"""The HTTP API and its page (``pixelsense-serve``): every model's answer, the 28×28 picture it saw, where it
looks and how its answer moves with the picture, for photos sent over HTTP.

Built on ``infer`` alone, the same decoding, conversion and checks as predict.py, never torch. Needs
``pip install "pixelsense[serve]"`` (FastAPI, uvicorn, python-multipart). May import ``infer`` and the ground,
never ``train``, ``study``, ``bench`` or ``cli``.
"""
