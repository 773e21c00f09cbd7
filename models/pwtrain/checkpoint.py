"""Self-describing training checkpoints: written by train.py, read by export.py and evaluate.py.

A checkpoint holds the model arguments, the full config, step, elapsed minutes, metrics, history, where its
initial weights came from, the hardware, CPU weights and the optimiser state, so it is loadable on any machine
without other input. This module imports no other training module, so train -> evaluate -> export all depend on
it without a circle.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .config import Config, config_from_dict, config_to_dict
from .nets import build_model, parameter_count


def load_checkpoint(path: Path, device: str = "cpu") -> dict:
    """A checkpoint written by save_checkpoint (our own file, so not restricted to plain tensors)."""
    return torch.load(path, map_location=device, weights_only=False)


def hardware(device: str) -> str:
    """Where a run trains, for the model card."""
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"CPU, {torch.get_num_threads()} threads"


def save_checkpoint(path: Path, model, optimiser, config, step, elapsed, metrics, history, origin) -> None:
    weights = {key: value.cpu() for key, value in model.state_dict().items()}  # loadable without a GPU
    state = {"model_args": config_to_dict(config)["model"], "config": config_to_dict(config), "step": step,
             "elapsed_minutes": elapsed, "metrics": metrics, "history": history, "origin": origin,
             "hardware": hardware(str(next(model.parameters()).device)),
             "parameters": parameter_count(model), "model": weights, "optimiser": optimiser.state_dict()}
    atomic_save(state, path)


def atomic_save(state: dict, path: Path) -> None:
    """torch.save through a temporary file renamed over `path`: a reader never sees half a checkpoint."""
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def load_model(checkpoint: Path | None, config: Config | None):
    """(model, config, checkpoint state or None); without a checkpoint the weights are the seeded random init."""
    state = None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        config = config_from_dict(state["config"])
    torch.manual_seed(config.train.seed)
    model = build_model(config.model)
    if state is not None:
        model.load_state_dict(state["model"])
    return model.eval(), config, state
