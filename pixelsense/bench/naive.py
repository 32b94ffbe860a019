"""The textbook endpoint that Fashion-MNIST web apps publish, the reference of ``bench.py serve``: a
synchronous FastAPI route that decodes the upload with Pillow, resizes it to 28×28 and runs one model, one
``session.run`` a request. Run by the bench as ``python -m pixelsense.bench.naive MODEL``; prints its URL."""

import io
import socket
import sys

import numpy as np

from pixelsense.constants import CLASSES


def app(model: str):
    import onnxruntime as ort
    from fastapi import FastAPI, UploadFile
    from PIL import Image

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    naive = FastAPI()

    @naive.post("/predict")
    def predict(file: UploadFile) -> dict:
        image = Image.open(io.BytesIO(file.file.read())).convert("L").resize((28, 28))
        pixels = np.asarray(image, np.uint8)[None, None]
        probabilities = session.run(["probabilities"], {"images": pixels})[0][0]
        best = int(probabilities.argmax())
        return {"class": CLASSES[best], "probability": float(probabilities[best])}

    return naive


if __name__ == "__main__":
    import uvicorn

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as uvicorn.run binds
    listening.bind(("127.0.0.1", 0))
    listening.listen(128)
    print(f"http://127.0.0.1:{listening.getsockname()[1]}/", flush=True)
    uvicorn.Server(uvicorn.Config(app(sys.argv[1]), log_level="warning")).run(sockets=[listening])
