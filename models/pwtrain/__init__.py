"""Pixelwise Studio training package: synthetic + real data, small embedding nets, losses, ONNX export.

Every script runs from the repository root as a module, e.g. ``/usr/bin/python3 -m models.pwtrain.train``.
"""
import os

# Passive OpenMP waits: on a shared, oversubscribed CPU, spinning worker threads burn 5-10x the CPU time of the
# actual work while they wait for a descheduled sibling (measured here). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def set_threads() -> int:
    """Use at most two intra-op threads: the build machines share two cores between engineers."""
    import torch

    threads = max(1, min(os.cpu_count() or 1, int(os.environ.get("PWTRAIN_THREADS", "2"))))
    torch.set_num_threads(threads)
    return threads
