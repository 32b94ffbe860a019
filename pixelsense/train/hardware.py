"""What "auto" means on this machine: the recipe, accelerator and precision a run gets, and how its device is
named. Imports torch only when it has to look."""

from __future__ import annotations


def device_kind(accelerator: str) -> str:
    """Which recipe a run on ``accelerator`` gets: "gpu" for a CUDA GPU, else "cpu"."""
    if accelerator == "auto":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if accelerator in ("gpu", "cuda") else "cpu"


def hardware(accelerator: str, precision: str) -> tuple[str, str]:
    """The (accelerator, precision) that a run's settings mean on this machine, where they say ``auto``."""
    import torch

    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if precision == "auto":
        gpu = accelerator in ("gpu", "cuda") and torch.cuda.is_available()
        precision = "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    return accelerator, precision


def device_line(trainer) -> str:
    """What a run trains on, as its start line and metrics.json say it."""
    import torch

    root = trainer.strategy.root_device
    if root.type == "cuda":
        name = torch.cuda.get_device_name(root)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    return f"{trainer.world_size} × {root.type} ({name}), strategy {type(trainer.strategy).__name__}"
