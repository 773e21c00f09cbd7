"""ONNX export, manifest writing and the onnxruntime-node parity check shared by every exporter.

The studio reads ``model.json`` (schema: core/manifest.ts); nothing here may write an absolute path or a path
outside the repository into it.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
ORT_RUN = REPO_ROOT / "models" / "tools" / "ort_run.cjs"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def export_onnx(module: torch.nn.Module, onnx_path: Path, sample: torch.Tensor) -> None:
    """Trace ``module`` (1x3xHxW float32 -> 1xDxhxw) to ONNX opset 17 with dynamic H and W."""
    module.eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    # PyTorch >= 2.9 defaults to the dynamo exporter (opset 18+, dynamic_shapes); the TorchScript exporter gives
    # the same opset-17 graph on Debian's 1.13 and on current releases.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(
            module, (sample,), str(onnx_path), opset_version=17,
            input_names=["image"], output_names=["embedding"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "embedding": {2: "grid_height", 3: "grid_width"}},
            do_constant_folding=True, **legacy,
        )
    import onnx

    onnx.checker.check_model(onnx.load(str(onnx_path)))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, *, id: str, name: str, version: str, kind: str, description: str,
                   license: str, long_side: int, multiple_of: int, mean, std, stride: int, dim: int,
                   normalized: bool = True, file: str = "model.onnx") -> dict:
    """Write ``folder/model.json`` for ``folder/file`` exactly as core/manifest.ts expects it."""
    manifest = {
        "id": id, "name": name, "version": version, "kind": kind, "description": description,
        "license": license, "file": file, "sha256": sha256_file(folder / file),
        "input": {"name": "image", "longSide": int(long_side), "multipleOf": int(multiple_of),
                  "mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "output": {"name": "embedding", "stride": int(stride), "dim": int(dim), "normalized": bool(normalized)},
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def run_onnxruntime_node(onnx_path: Path, image: np.ndarray, threads: int = 2, repeat: int = 1, spin: bool = True):
    """Run ``onnx_path`` on ``image`` (float32 1x3xHxW) through onnxruntime-node; returns (output, info)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH; the parity check needs onnxruntime-node")
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
        np.save(source, np.ascontiguousarray(image, dtype=np.float32))
        done = subprocess.run(
            [node, str(ORT_RUN), str(onnx_path), str(source), str(target), "--threads", str(threads),
             "--repeat", str(repeat), "--spin", "1" if spin else "0"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed on {onnx_path.name}: {done.stderr.strip()}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        return np.load(target), info


def check_parity(module: torch.nn.Module, onnx_path: Path, shapes, tolerance: float = 1e-4, make_input=None) -> float:
    """Compare PyTorch and onnxruntime-node outputs on inputs of each (H, W); raises on mismatch. The inputs are
    make_input(index, height, width), by default seeded random RGB images."""
    module.eval()
    worst = 0.0
    if make_input is None:
        generator = torch.Generator().manual_seed(0)
        make_input = lambda _index, height, width: torch.randn(1, 3, height, width, generator=generator)  # noqa: E731
    for index, (height, width) in enumerate(shapes):
        image = make_input(index, height, width)
        with torch.no_grad():
            expected = module(image).numpy()
        actual, _ = run_onnxruntime_node(onnx_path, image.numpy())
        if actual.shape != expected.shape:
            raise AssertionError(f"{onnx_path.name}: shape {actual.shape} != {expected.shape} at {height}x{width}")
        worst = max(worst, float(np.abs(actual - expected).max()))
    if worst >= tolerance:
        raise AssertionError(f"{onnx_path.name}: onnxruntime-node differs from PyTorch by {worst:.2e}")
    return worst
