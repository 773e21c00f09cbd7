"""Export a decoder checkpoint to ONNX + decoder.json (+ MODEL_CARD.md), checked through onnxruntime-node.

    /usr/bin/python3 -m models.pwtrain.decoder_export --checkpoint models/runs/decoder_s/last.pt --out models/decoders/pixelwise-decoder-s --card

ONNX contract (read by electron/augment/decoder.ts): input ``embedding`` float32 1xDxhxw (the dequantised stored
map, channel-major), output ``image`` float32 1x3x(4h)x(4w), RGB in [0, 1]; opset 17, dynamic h and w.
``decoder.json`` names the embedder (id + sha256) whose maps it decodes: the studio refuses other maps.
"""
from __future__ import annotations

import argparse
import inspect
import json
import warnings
from pathlib import Path

import torch

from . import set_threads
from .decoder import load_decoder, quantise_like_studio
from .export import loss_curve
from .nets import parameter_count
from .onnx_utils import check_parity, run_onnxruntime_node, sha256_file


def export_decoder_onnx(decoder: torch.nn.Module, path: Path, dim: int) -> None:
    decoder.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(decoder, (torch.randn(1, dim, 24, 32),), str(path), opset_version=17,
                          input_names=["embedding"], output_names=["image"],
                          dynamic_axes={"embedding": {2: "grid_height", 3: "grid_width"},
                                        "image": {2: "height", 3: "width"}},
                          do_constant_folding=True, **legacy)
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))


def random_maps(dim: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return quantise_like_studio(torch.nn.functional.normalize(torch.randn(1, dim, height, width, generator=generator), dim=1))


def check_decoder_parity(decoder: torch.nn.Module, path: Path, dim: int, shapes, tolerance: float = 1e-4) -> float:
    """Max abs difference between PyTorch and onnxruntime-node on random studio-like maps of each (h, w)."""
    return check_parity(decoder, path, shapes, tolerance, lambda index, height, width: random_maps(dim, height, width, index))


def time_decoder(path: Path, dim: int, repeat: int = 5) -> dict:
    """onnxruntime-node CPU time at a 512x384 output (grid 128x96), 2 threads, passive waits."""
    _, info = run_onnxruntime_node(path, random_maps(dim, 96, 128).numpy(), threads=2, repeat=repeat, spin=False)
    cpu = sorted(info["cpuMs"])[len(info["cpuMs"]) // 2]
    return {"onnxruntime-node 512x384: median wall ms (2 threads)": round(info["medianMs"], 1),
            "onnxruntime-node 512x384: median CPU ms": round(cpu, 1)}


def write_decoder_manifest(folder: Path, *, id: str, name: str, version: str, description: str, embedder: dict,
                           dim: int, architecture: dict | None = None, file: str = "model.onnx") -> dict:
    manifest = {"id": id, "name": name, "version": version, "kind": "decoder", "description": description,
                "license": "MIT", "file": file, "sha256": sha256_file(folder / file),
                "embedder": {"id": embedder["id"], "sha256": embedder["sha256"]},
                "input": {"name": "embedding", "dim": int(dim), "stride": 4},
                "output": {"name": "image", "range": [0, 1]},
                "architecture": architecture or {}}  # decoder.Decoder arguments (models.pwtrain reloads the ONNX)
    (folder / "decoder.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_card(folder: Path, config, state, parameters: int, timings: dict, worst: float, metrics: dict) -> None:
    history = state.get("history", [])
    loss = config.loss
    lines = [
        f"# {config.name} (`{config.id}`)", "",
        f"Decoder: a stored `{state['embedder']['id']}` embedding map (int8-dequantised, {config.model.dim}-d, "
        "stride 4) -> RGB at 4x the grid. Used by the studio's Augment (edit the map inside an object, decode).", "",
        "| | |", "|---|---|",
        f"| parameters | {parameters:,} |",
        f"| architecture | 3x3 conv + {config.model.blocks} residual blocks at stride 4 ({config.model.channels[0]} ch), "
        f"nearest x2 + conv + residual ({config.model.channels[1]} ch), nearest x2 + conv ({config.model.channels[2]} ch), "
        "conv to RGB, sigmoid |",
        f"| embedder (frozen, exact ONNX weights) | `{state['embedder']['id']}` sha256 {state['embedder']['sha256'][:12]}... |",
        f"| loss | {loss.l1} L1 + {loss.gradient} gradient L1 + {loss.reembed} (1 - re-embedding cosine)"
        f"{f' + {loss.adversarial} hinge adversarial (patch discriminator on image + map)' if loss.adversarial else ''} |",
        f"| data | {config.data.crop}px crops of training photos scaled like the studio (long side {config.data.long_side}, "
        f"jitter {config.data.scale_jitter}): {', '.join(Path(d).name for d in config.data.real_dirs) or 'none'}; "
        f"{config.data.synthetic_fraction:.0%} synthetic dead-leaves scenes |",
        f"| training | {state['step']} steps, {state['elapsed_minutes']:.0f} min on {state['hardware']}, batch "
        f"{config.train.batch}, AdamW lr {config.train.lr} cosine |",
        f"| loss curve (window means) | {loss_curve(history)} |" if history else "",
        f"| held-out synthetic PSNR / re-embedding cosine | {state['metrics'].get('synthetic_psnr')} dB / "
        f"{state['metrics'].get('synthetic_reembed_cosine')} |",
        f"| onnxruntime-node parity (max abs diff) | {worst:.1e} |",
    ]
    for key, value in {**timings, **metrics}.items():
        lines.append(f"| {key} | {value} |")
    lines += ["", "Weaknesses: 16 numbers per 4x4 cell carry colour and coarse texture, not fine detail, so decoded "
              "images are soft; trained briefly on CPU at small crops. Reconstruction metrics on eval/ images "
              "(never trained on) are in docs/generation.md.", "",
              "    /usr/bin/python3 -m models.pwtrain.decoder --config models/configs/decoder_s.json --out models/runs/decoder_s --minutes 50",
              f"    /usr/bin/python3 -m models.pwtrain.decoder_export --checkpoint models/runs/decoder_s/last.pt --out models/decoders/{config.id} --card"]
    (folder / "MODEL_CARD.md").write_text("\n".join(line for line in lines if line is not None) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="models/decoders/<id>")
    parser.add_argument("--card", action="store_true")
    parser.add_argument("--metrics", type=Path, help="JSON object of measured metrics for MODEL_CARD.md")
    parser.add_argument("--version", default="0.1.0")
    args = parser.parse_args()
    set_threads()
    warnings.filterwarnings("ignore")
    decoder, config, state = load_decoder(args.checkpoint)
    onnx_path = args.out / "model.onnx"
    export_decoder_onnx(decoder, onnx_path, config.model.dim)
    worst = check_decoder_parity(decoder, onnx_path, config.model.dim, [(24, 32), (17, 9), (96, 128)])
    parameters = parameter_count(decoder)
    write_decoder_manifest(args.out, id=config.id, name=config.name, version=args.version, embedder=state["embedder"],
                           dim=config.model.dim, architecture={"channels": config.model.channels, "blocks": config.model.blocks},
                           description=f"{parameters / 1e6:.2f}M-parameter decoder from {state['embedder']['id']} "
                                       f"maps to RGB; {state['step']} steps.")
    timings = time_decoder(onnx_path, config.model.dim)
    if args.card:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
        write_card(args.out, config, state, parameters, timings, worst, metrics)
    print(json.dumps({"out": str(args.out), "parity_max_abs_diff": worst, "bytes": onnx_path.stat().st_size, **timings}))


if __name__ == "__main__":
    main()
