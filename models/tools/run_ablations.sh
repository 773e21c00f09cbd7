#!/usr/bin/env bash
# Train the ablation rows one after another (equal wall-clock budget each, one thread so the main run keeps most
# of the CPU) and export each to models/experiments/<id>/. Run from the repository root:
#   nohup bash models/tools/run_ablations.sh 12 > models/runs/ablations.log 2>&1 &
set -euo pipefail
minutes="${1:-12}"
export PWTRAIN_THREADS=1
for name in combined disc nce synthetic; do
  /usr/bin/python3 -W ignore -m models.pwtrain.train --config "models/configs/ablation_${name}.json" \
    --out "models/runs/ablation_${name}" --minutes "$minutes" --workers 1
  /usr/bin/python3 -W ignore -m models.pwtrain.export --checkpoint "models/runs/ablation_${name}/last.pt" \
    --out "models/experiments/ablation-${name}" --card --skip-timing
done
/usr/bin/python3 -W ignore -m models.pwtrain.export --config models/configs/ablation_random.json --untrained \
  --out models/experiments/ablation-random --card --skip-timing
