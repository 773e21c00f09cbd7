#!/usr/bin/env bash
# Does augmentation help? The learned click step trained at equal steps without and with Augment's variants of the
# training images, then NoC on eval/GrabCut and eval/COCO_MVal (reporting only). See README.md beside this file.
#   bash models/experiments/augment-helps/run.sh [DATA=../shared/data] [STEPS=6600] [VARIANTS=3] [COCO_LIMIT=100]
# Every stage skips what it already made (delete .cache/augment-helps to start over). One thread per process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA=${DATA:-../shared/data} STEPS=${STEPS:-6600} VARIANTS=${VARIANTS:-3} COCO_LIMIT=${COCO_LIMIT:-100}
OUT=.cache/augment-helps
mkdir -p "$OUT"
TRAIN=(VOC_coseg COCO128_panoptic)
export OMP_NUM_THREADS=1
clicks() { nice -n 10 npx tsx tests/bench/eval-clicks.ts --model pixelwise-unet-s "$@"; }

# 1. Click rounds of the originals (the engine's formula as the policy, as for the shipped weights).
for set in "${TRAIN[@]}"; do
  [ -s "$OUT/orig-$set.bin" ] || clicks --dataset "$DATA/train/$set" --clicks 16 --step engine --dump "$OUT/orig-$set.bin"
done
# 2. Augment's variants (jitter, swap, interpolate at the studio's default strength 0.7) of the training-side images
#    (images holding a held-out object are left out), written as dataset folders with the sources' masks.
for set in "${TRAIN[@]}"; do
  [ -d "$OUT/$set-aug" ] || nice -n 10 npx tsx tests/bench/augment-variants.ts --dataset "$DATA/train/$set" --out "$OUT/$set-aug" \
    --variants "$VARIANTS" --edits jitter,swap,interpolate --strength 0.7 --seed 1 --holdout-every 10 | tee "$OUT/variants-$set.txt"
done
# 3. Click rounds of the variants (same protocol, same per-stem seeding of the dumped rounds).
for set in "${TRAIN[@]}"; do
  [ -s "$OUT/aug-$set.bin" ] || clicks --dataset "$OUT/$set-aug" --clicks 16 --step engine --dump "$OUT/aug-$set.bin"
done
# 4. Two runs from the same init and seed, the same STEPS batches of 16 crops: only the pool they sample differs.
#    The held-out records (every 10th original object) are the same for both and pick each run's checkpoint.
for run in without with; do
  [ -s "$OUT/weights-$run.json" ] || nice -n 10 /usr/bin/python3 -m models.pwtrain.clickstep --config "models/configs/clickstep-augment-$run.json" \
    --out "$OUT/run-$run" --steps "$STEPS" --minutes 600 --export "$OUT/weights-$run.json" > "$OUT/train-$run.log"
done
# 5. NoC on eval/ (reporting only; nothing above read it): engine formula, shipped weights, without, with.
for set in GrabCut COCO_MVal; do
  limit=(); [ "$set" = COCO_MVal ] && limit=(--limit "$COCO_LIMIT")
  clicks --dataset "$DATA/eval/$set" "${limit[@]}" --step engine --out "$OUT/eval-$set-engine.json"
  clicks --dataset "$DATA/eval/$set" "${limit[@]}" --out "$OUT/eval-$set-shipped.json"
  for run in without with; do
    clicks --dataset "$DATA/eval/$set" "${limit[@]}" --step-weights "$OUT/weights-$run.json" --out "$OUT/eval-$set-$run.json"
  done
done | tee "$OUT/eval.txt"
/usr/bin/python3 models/experiments/augment-helps/summarize.py "$OUT" | tee "$OUT/table.md"
