"""Facts about Fashion-MNIST that the data, the networks and the exports share (no imports here)."""

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASSES)
ARCHS = ("ann", "cnn")  # the two networks
SCHEDULES = ("onecycle", "cosine")  # learning-rate schedules
IMAGE_SIZE = 28  # images are IMAGE_SIZE × IMAGE_SIZE, one grayscale channel
# Pixel mean and std of the 60k official training images, scaled to [0, 1].
MEAN = 0.2860
STD = 0.3530
