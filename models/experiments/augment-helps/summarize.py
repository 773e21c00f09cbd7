"""The table of models/experiments/augment-helps/run.sh: NoC per click step from its eval JSONs (eval-clicks.ts
--out), and each trained run's held-out pick (the exported weights' meta). Prints Markdown.

    /usr/bin/python3 models/experiments/augment-helps/summarize.py [.cache/augment-helps]
"""
import json
import sys
from pathlib import Path

ROWS = [("engine", "Engine formula"), ("shipped", "Learned step, shipped weights")]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/augment-helps")
    sets = [name for name in ("GrabCut", "COCO_MVal", "COCO_MVal-all") if (out / f"eval-{name}-engine.json").exists()]
    header = ["click step"]
    for name in sets:
        images = json.loads((out / f"eval-{name}-engine.json").read_text())["metrics"]["images"]
        header += [f"{name.removesuffix('-all')} ({images}) NoC@85 / @90 / fail@90", f"mIoU@1/3/5"]
    header.append("held-out training objects: grid IoU (step picked)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    seeds = sorted({path.stem.split("-seed")[1] for path in out.glob("weights-*-seed*.json")}, key=int)
    runs = [(f"{run}{suffix}", f"Learned step, trained {run} variants{label}") for run in ("without", "with")
            for suffix, label in [("", ", seed 0")] + [(f"-seed{seed}", f", seed {seed}") for seed in seeds]]
    runs.append(("with-jitter", "Learned step, trained with the jitter variants only (jitter-only.sh), seed 0"))
    for key, label in ROWS + runs:
        cells = [label]
        for name in sets:
            path = out / f"eval-{name}-{key}.json"
            if not path.exists():
                cells += ["", ""]
                continue
            m = json.loads(path.read_text())["metrics"]
            cells += [f"{m['noc85']:.2f} / {m['noc90']:.2f} / {m['failures90']}",
                      f"{m['miou1']:.3f} / {m['miou3']:.3f} / {m['miou5']:.3f}"]
        weights = out / f"weights-{key}.json"
        if weights.exists():
            meta = json.loads(weights.read_text())["meta"]
            cells.append(f"{meta['heldOut']['iou']:.4f} (step {meta['heldOut']['step']:,}; "
                         f"{meta['trainRecords']:,} training records)")
        else:
            cells.append("")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
