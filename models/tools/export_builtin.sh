#!/usr/bin/env bash
# Measure the proxy metrics of a run's latest checkpoint (eval/ is only read) and export it as the built-in
# pixelwise-unet-s with its MODEL_CARD.md. Run from the repository root:
#   bash models/tools/export_builtin.sh models/runs/unet_s
set -euo pipefail
run="${1:-models/runs/unet_s}"
/usr/bin/python3 -W ignore -m models.pwtrain.evaluate --checkpoint "$run/last.pt" \
  --data ../shared/data/eval/GrabCut ../shared/data/eval/COCO_MVal --limit 25 --threshold 0.8 0.9 \
  --metrics-out "$run/metrics.json" | tee "$run/proxy.jsonl"
/usr/bin/python3 -W ignore -m models.pwtrain.export --checkpoint "$run/last.pt" \
  --out models/builtin/pixelwise-unet-s --card --metrics "$run/metrics.json"
