#!/usr/bin/env bash
# Ablation after run.sh: only the jitter variants (recolouring within the object's own spread; no content from
# another object). `--variants 1 --edits jitter` makes exactly run.sh's first variant of every image (same seeds).
#   [DATA=../shared/data] [STEPS=6600] [COCO_LIMIT=100] bash models/experiments/augment-helps/jitter-only.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA=${DATA:-../shared/data} STEPS=${STEPS:-6600} COCO_LIMIT=${COCO_LIMIT:-100}
OUT=.cache/augment-helps
export OMP_NUM_THREADS=1
clicks() { nice -n 10 npx tsx tests/bench/eval-clicks.ts --model pixelwise-unet-s "$@"; }
for set in VOC_coseg COCO128_panoptic; do
  [ -d "$OUT/$set-aug-jitter" ] || nice -n 10 npx tsx tests/bench/augment-variants.ts --dataset "$DATA/train/$set" --out "$OUT/$set-aug-jitter" \
    --variants 1 --edits jitter --strength 0.7 --seed 1 --holdout-every 10
  [ -s "$OUT/aug-jitter-$set.bin" ] || clicks --dataset "$OUT/$set-aug-jitter" --clicks 16 --step engine --dump "$OUT/aug-jitter-$set.bin"
done
[ -s "$OUT/weights-with-jitter.json" ] || nice -n 10 /usr/bin/python3 -m models.pwtrain.clickstep --config models/configs/clickstep-augment-with-jitter.json \
  --seed 0 --out "$OUT/run-with-jitter" --steps "$STEPS" --minutes 600 --export "$OUT/weights-with-jitter.json" > "$OUT/train-with-jitter.log"
for set in GrabCut COCO_MVal; do
  limit=(); [ "$set" = COCO_MVal ] && limit=(--limit "$COCO_LIMIT")
  [ -s "$OUT/eval-$set-with-jitter.json" ] || clicks --dataset "$DATA/eval/$set" "${limit[@]}" --step-weights "$OUT/weights-with-jitter.json" --out "$OUT/eval-$set-with-jitter.json"
done
