"""Regenerates docs/generation.md: decoding stored embedding maps back to images, Augment's edits, and the
conditional generators.

    npm run report:generation -- [--data ../shared/data] [--limit 20] [--only generators]
    /usr/bin/python3 -m models.pwtrain.gen_report --data ../shared/data --limit 20

Reporting only: eval/ images are measured, never trained or tuned on. Everything runs through the shipped files:
the built-in embedder and the decoder in models/decoders/<id>, both ONNX files loaded back into torch
(``load_onnx_weights``; the export checks them against onnxruntime-node).

Reconstruction (images scaled like the studio: long side 512, maps int8 as stored): PSNR and SSIM of the decoded
image against the scaled image, and the re-embedding cosine (the embedder on the decoded image vs the input map,
mean over cells). Two baselines without learning, from a bank of cells of training images (VOC co-seg +
COCO128 panoptic at the same scale; never eval/): per-cell mean colour (each cell gets the mean colour of the 8
training cells with the most similar embeddings) and nearest training patch (each cell gets the 4x4 pixels of
the single most similar training cell). A reference row, not a decoder: each cell painted with its own true
mean colour (what a stride-4 grid could hold at best with colour alone).

Edits (tests/bench/augment-eval.ts, the studio's own TypeScript path: int8 maps, core/augment, onnxruntime-node
decoder, composition, the click engine): share of the requested shift achieved, leak, mask preservation.

Generators (models/pwtrain/generator.py, checkpoints models/runs/generator_{embedding,mask,none}/last.pt, which
must be equal-compute runs): Fréchet embedding distance (the frozen embedder's space, not FID), re-embedding
cosine, mask separability, on held-out crops; ``--only generators`` recomputes that section alone.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import set_threads
from .data import IMAGE_SUFFIXES, read_rgb
from .decoder import (Decoder, load_embedder, load_onnx_weights, normalise_image, quantise_like_studio, studio_scaled)
from .decoder_config import DecoderModelConfig
from .generator_eval import generator_lines, generator_results, kept_section, splice_generators

AUGMENT_SECTION = "## Does augmentation help?"
from .onnx_utils import REPO_ROOT

STRIDE, MULTIPLE = 4, 32


def load_decoder_onnx(folder: Path) -> tuple[Decoder, dict]:
    manifest = json.loads((folder / "decoder.json").read_text())
    architecture = manifest.get("architecture") or {}
    config = DecoderModelConfig(dim=manifest["input"]["dim"], **architecture)
    return load_onnx_weights(Decoder(config), folder / manifest["file"], torch.zeros(1, config.dim, 8, 8)), manifest


def padded_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> 1x3xHpxWp float [0, 1], zero (black) padding bottom/right like the studio."""
    height, width = image.shape[:2]
    pad = lambda n: int(math.ceil(n / MULTIPLE) * MULTIPLE)  # noqa: E731
    canvas = np.zeros((pad(height), pad(width), 3), np.float32)
    canvas[:height, :width] = image.astype(np.float32) / 255
    return torch.from_numpy(canvas).permute(2, 0, 1)[None]


@torch.no_grad()
def stored_map(embedder, manifest, image: np.ndarray) -> torch.Tensor:
    """The studio's stored map for a scaled image: 1xDxghxgw, int8-dequantised, cropped to the image's grid."""
    height, width = image.shape[:2]
    grid = embedder(normalise_image(padded_tensor(image), manifest))
    return quantise_like_studio(grid[:, :, :math.ceil(height / STRIDE), :math.ceil(width / STRIDE)])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over RGB channels, images float in [0, 1] (Gaussian window 11, sigma 1.5; Wang et al. 2004)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    values = []
    for channel in range(3):
        x, y = a[..., channel].astype(np.float64), b[..., channel].astype(np.float64)
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        values.append(((2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())
    return float(np.mean(values))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1 / max(float(((a - b) ** 2).mean()), 1e-10))


def list_images(folder: Path, limit: int) -> list[Path]:
    return sorted(p for p in (folder / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]


class CellBank:
    """Cells of training images: embedding (int8-dequantised, renormalised), mean colour and 4x4 pixels."""

    def __init__(self, embedder, manifest, folders: list[Path], images_per_folder: int, cells: int, seed: int = 0):
        vectors, colours, patches = [], [], []
        for folder in folders:
            if "eval" in folder.resolve().parts:
                raise ValueError(f"the baselines' bank must not read eval/: {folder}")
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and "images" in p.parts)
            for path in paths[::max(1, len(paths) // images_per_folder)][:images_per_folder]:
                image = studio_scaled(read_rgb(path), manifest["input"]["longSide"])
                grid = stored_map(embedder, manifest, image)[0]
                gh, gw = image.shape[0] // STRIDE, image.shape[1] // STRIDE  # whole cells only
                pixels = image[:gh * STRIDE, :gw * STRIDE].astype(np.float32) / 255
                blocks = pixels.reshape(gh, STRIDE, gw, STRIDE, 3).transpose(0, 2, 1, 3, 4).reshape(gh * gw, STRIDE, STRIDE, 3)
                vectors.append(F.normalize(grid[:, :gh, :gw], dim=0).permute(1, 2, 0).reshape(-1, grid.shape[0]).numpy())
                patches.append(blocks)
                colours.append(blocks.mean(axis=(1, 2)))
        vectors, colours, patches = np.concatenate(vectors), np.concatenate(colours), np.concatenate(patches)
        keep = np.random.default_rng(seed).permutation(len(vectors))[:cells]
        self.vectors, self.colours, self.patches = vectors[keep], colours[keep], patches[keep]

    def decode(self, grid: torch.Tensor, height: int, width: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """(k-NN mean colour image, nearest-patch image), both height x width x 3 float."""
        dim, gh, gw = grid.shape[1:]
        queries = F.normalize(grid[0], dim=0).permute(1, 2, 0).reshape(-1, dim).numpy()
        nearest, best = np.empty((len(queries), k), np.int64), np.empty(len(queries), np.int64)
        for start in range(0, len(queries), 2048):
            scores = queries[start:start + 2048] @ self.vectors.T
            nearest[start:start + 2048] = np.argpartition(-scores, k, axis=1)[:, :k]
            best[start:start + 2048] = scores.argmax(axis=1)
        colour = self.colours[nearest].mean(axis=1).reshape(gh, gw, 3)
        colour = cv2.resize(colour, (gw * STRIDE, gh * STRIDE), interpolation=cv2.INTER_LINEAR)[:height, :width]
        patch = self.patches[best].reshape(gh, gw, STRIDE, STRIDE, 3).transpose(0, 2, 1, 3, 4)
        patch = patch.reshape(gh * STRIDE, gw * STRIDE, 3)[:height, :width]
        return colour, patch


def cell_mean_reference(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    small = cv2.resize(image, (math.ceil(width / STRIDE), math.ceil(height / STRIDE)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


@torch.no_grad()
def reconstruction_rows(embedder, manifest, decoder, bank: CellBank, folder: Path, limit: int, tiles: dict):
    methods = ("decoder", "per-cell mean colour (8-NN)", "nearest training patch", "reference: true cell mean colour")
    scores = {method: {"psnr": [], "ssim": [], "cosine": []} for method in methods}
    for index, path in enumerate(list_images(folder, limit)):
        image = studio_scaled(read_rgb(path), manifest["input"]["longSide"])
        height, width = image.shape[:2]
        target = image.astype(np.float32) / 255
        grid = stored_map(embedder, manifest, image)
        decoded = decoder(grid)[0].permute(1, 2, 0).numpy()[:height, :width]
        colour, patch = bank.decode(grid, height, width)
        outputs = {methods[0]: decoded, methods[1]: colour, methods[2]: patch,
                   methods[3]: cell_mean_reference(image).astype(np.float32) / 255}
        for method, output in outputs.items():
            output = np.clip(output, 0, 1)
            again = stored_map(embedder, manifest, (output * 255).round().astype(np.uint8))
            cosine = F.cosine_similarity(again, grid, dim=1).mean()
            scores[method]["psnr"].append(psnr(output, target))
            scores[method]["ssim"].append(ssim(output, target))
            scores[method]["cosine"].append(float(cosine))
        if index < tiles.get("count", 0):
            tiles.setdefault("baselines", []).append((colour, patch))
    return {method: {key: float(np.mean(values)) for key, values in entry.items()} for method, entry in scores.items()}


def tile(image: np.ndarray, height: int = 150) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_grid(tiles_dir: Path, baselines, out: Path, count: int) -> None:
    rows = []
    for index in range(count):
        read = lambda name: read_rgb(tiles_dir / f"{index}-{name}.png")  # noqa: E731
        source = read("source")
        size = (source.shape[1], source.shape[0])
        colour, patch = (cv2.resize((np.clip(b, 0, 1) * 255).astype(np.uint8), size) for b in baselines[index])
        cells = [source, read("reconstruction"), colour, patch, read("jitter"), read("swap"), read("interpolate")]
        row = [tile(cell) for cell in cells]
        height = row[0].shape[0]
        gap = np.full((height, 4, 3), 255, np.uint8)
        rows.append(np.concatenate([x for cell in row for x in (cell, gap)][:-1], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("--decoder", type=Path, default=REPO_ROOT / "models" / "decoders" / "pixelwise-decoder-s")
    parser.add_argument("--embedder", type=Path, default=REPO_ROOT / "models" / "builtin" / "pixelwise-unet-s")
    parser.add_argument("--limit", type=int, default=20, help="images per eval set")
    parser.add_argument("--edit-limit", type=int, default=10, help="GrabCut images for the edit metrics")
    parser.add_argument("--bank-images", type=int, default=15, help="training images per folder for the baselines")
    parser.add_argument("--bank-cells", type=int, default=15_000, help="cells kept in the baselines' bank")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "generation.md")
    parser.add_argument("--generator-runs", type=Path, default=REPO_ROOT / "models" / "runs",
                        help="folder with generator_{embedding,mask,none}/last.pt (models/pwtrain/generator.py)")
    parser.add_argument("--generator-limit", type=int, default=60, help="images per eval set for the generators")
    parser.add_argument("--only", choices=("generators",), help="recompute this section alone, keep the rest")
    args = parser.parse_args()
    set_threads()
    started = time.time()
    embedder, manifest = load_embedder(args.embedder)
    try:
        generators = generator_results(embedder, manifest, args.generator_runs, args.data, args.generator_limit,
                                       args.out.parent / "generation" / "generators.jpg")
        section = generator_lines(generators)
    except FileNotFoundError as error:
        if args.only == "generators":
            raise
        # checkpoints are not committed (4 MB each): without them the full report keeps the section it had
        print(f"{error}; keeping the Generators section already in {args.out}")
        generators, section = None, kept_section(args.out)
    if args.only == "generators":
        args.out.write_text(splice_generators(args.out.read_text(), section))
        print(json.dumps({"out": str(args.out), "generators": generators}))
        return
    decoder, decoder_manifest = load_decoder_onnx(args.decoder)
    train = [args.data / "train" / "VOC_coseg", args.data / "train" / "COCO128_panoptic"]
    bank = CellBank(embedder, manifest, train, args.bank_images, args.bank_cells)
    tiles_count = min(4, args.limit, args.edit_limit)
    with tempfile.TemporaryDirectory() as tmp:
        edits_json = Path(tmp) / "edits.json"
        command = ["npx", "tsx", "tests/bench/augment-eval.ts", "--dataset", str(args.data / "eval" / "GrabCut"),
                   "--limit", str(args.edit_limit), "--out", str(edits_json), "--tiles", tmp, "--tile-count", str(tiles_count)]
        subprocess.run(command, cwd=REPO_ROOT, check=True)
        edits = json.loads(edits_json.read_text())
        tiles = {"count": tiles_count}
        results = {name: reconstruction_rows(embedder, manifest, decoder, bank, args.data / "eval" / name, args.limit,
                                             tiles if name == "GrabCut" else {})
                   for name in ("GrabCut", "COCO_MVal")}
        grid_path = args.out.parent / "generation" / "grid.jpg"
        write_grid(Path(tmp), tiles["baselines"], grid_path, tiles_count)
    card = (args.decoder / "MODEL_CARD.md").read_text() if (args.decoder / "MODEL_CARD.md").exists() else ""
    training = next((line for line in card.splitlines() if line.startswith("| training |")), "")
    lines = [
        "# Decoding embedding maps, and Augment", "",
        "Generated by `npm run report:generation` (`models/pwtrain/gen_report.py`, "
        f"{(time.time() - started) / 60:.0f} min on 2 shared CPU cores); do not edit by hand. "
        "eval/ images are measured only: nothing here was trained or tuned on them.", "",
        f"Decoder `{decoder_manifest['id']}` ({decoder_manifest['description']}) decodes `{manifest['id']}` maps as the "
        "studio stores them (int8, 16-d, stride 4, images scaled to long side 512). Trained at 128 px crops on CPU "
        "(one thread) - the same script runs on a GPU with larger crops and batches (`--device cuda`).",
        f"Training{training[len('| training |'):].rstrip(' |')}." if training else "", "",
        "![source | decoder | per-cell mean colour | nearest training patch | jitter | swap | interpolate](generation/grid.jpg)", "",
        "Columns: source (GrabCut, scaled) | decoder reconstruction | per-cell mean colour baseline | nearest training "
        "patch baseline | Augment jitter | swap (donor: the next image's object) | interpolate, all at strength "
        f"{edits['strength']}. The edits are Augment's output: the decoded change composed into the photo inside the "
        "object's mask, everything else untouched.", "",
        "## Reconstruction", "",
    ]
    for name, rows in results.items():
        lines += [f"{name}, first {args.limit} images:", "",
                  "| method | PSNR dB | SSIM | re-embedding cosine |", "|---|---|---|---|"]
        lines += [f"| {method} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['cosine']:.3f} |" for method, row in rows.items()]
        lines.append("")
    lines += [
        f"The baselines look embeddings up in a bank of {len(bank.vectors):,} cells of {2 * args.bank_images} training "
        "images (VOC co-seg, COCO128 panoptic). The reference row needs the image itself and is no decoder: it is what colour alone at the "
        "grid's resolution reaches.", "",
        "## Edits", "",
        f"Through the studio's code path on the first {edits['images']} GrabCut images, strength {edits['strength']}; "
        f"mask preservation: {edits['clicks']} clicks of the standard protocol on the source image, the same clicks "
        "on the edited image's map (the studio's click engine), IoU with the source mask.", "",
        "| edit | requested shift achieved inside | leak outside (relative) | mask IoU, source | mask IoU, edited |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {edit} | {row['achieved']:.2f} | {row['leak']:.2f} | {row['iouSource']:.3f} | {row['iouEdited']:.3f} |"
              for edit, row in edits["edits"].items()]
    lines += [
        "", "Achieved: projection of the re-embedded edited image's change on the requested change, over the "
        "object's cells (1 = all of it). Leak: mean change of embeddings outside the object, relative to the requested "
        "change inside; pixels there are untouched, so any leak is the embedder's context (its global pooling) "
        "seeing the edited object.", "",
        "## Not done", "",
        "- Re-segmentation of objects whose boundary an edit moves: Augment changes pixels only inside the masks, "
        "so the masks stay exact and none is needed.", "",
        "## Reproduce", "",
        "```",
        "/usr/bin/python3 -m models.pwtrain.decoder --config models/configs/decoder_s.json --out models/runs/decoder_s --minutes 50",
        "/usr/bin/python3 -m models.pwtrain.decoder_export --checkpoint models/runs/decoder_s/last.pt --out models/decoders/pixelwise-decoder-s --card",
        "npm run report:generation -- --data ../shared/data",
        "npm run bench:augment",
        "```", "",
    ]
    text = "\n".join(line for line in lines if line is not None) + "\n"
    text = splice_generators(text, section) if section else text
    # Written by hand from models/experiments/augment-helps (its run.sh and summarize.py): kept as it is.
    augment = kept_section(args.out, AUGMENT_SECTION)
    args.out.write_text(splice_generators(text, augment, AUGMENT_SECTION, "- Does augmentation help") if augment else text)
    print(json.dumps({"out": str(args.out), "reconstruction": results, "edits": edits["edits"], "generators": generators}))


if __name__ == "__main__":
    main()
