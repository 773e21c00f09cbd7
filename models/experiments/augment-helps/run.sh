#!/usr/bin/env bash
# Does augmentation help? The learned click step trained at equal steps without and with Augment's variants of the
# training images, then NoC on eval/GrabCut and eval/COCO_MVal (reporting only). See README.md beside this file.
#   [DATA=../shared/data] [STEPS=6600] [VARIANTS=3] [COCO_LIMIT=100] [SEEDS="0 1"] bash models/experiments/augment-helps/run.sh
# Every stage skips what it already made (delete .cache/augment-helps to start over). One thread per process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA=${DATA:-../shared/data} STEPS=${STEPS:-6600} VARIANTS=${VARIANTS:-3} COCO_LIMIT=${COCO_LIMIT:-100} SEEDS=${SEEDS:-0 1}
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
#    Each pair runs once per seed in SEEDS (the init's and the batches' seed): the spread between seeds is the noise.
RUNS=()
for seed in $SEEDS; do
  for run in without with; do
    name=$run; [ "$seed" = 0 ] || name=$run-seed$seed
    RUNS+=("$name")
    [ -s "$OUT/weights-$name.json" ] || nice -n 10 /usr/bin/python3 -m models.pwtrain.clickstep --config "models/configs/clickstep-augment-$run.json" \
      --seed "$seed" --out "$OUT/run-$name" --steps "$STEPS" --minutes 600 --export "$OUT/weights-$name.json" > "$OUT/train-$name.log"
  done
done
# 5. NoC on eval/ (reporting only; nothing above read it): engine formula, shipped weights, without, with.
#    COCO_MVal: the first COCO_LIMIT images, then all 427 ("COCO_MVal-all") unless COCO_ALL=0.
sets=(GrabCut COCO_MVal); [ "${COCO_ALL:-1}" = 1 ] && sets+=(COCO_MVal-all)
for set in "${sets[@]}"; do
  limit=(); [ "$set" = COCO_MVal ] && limit=(--limit "$COCO_LIMIT")
  folder="$DATA/eval/${set%-all}"
  [ -s "$OUT/eval-$set-engine.json" ] || clicks --dataset "$folder" "${limit[@]}" --step engine --out "$OUT/eval-$set-engine.json"
  [ -s "$OUT/eval-$set-shipped.json" ] || clicks --dataset "$folder" "${limit[@]}" --out "$OUT/eval-$set-shipped.json"
  for run in "${RUNS[@]}"; do
    [ -s "$OUT/eval-$set-$run.json" ] || clicks --dataset "$folder" "${limit[@]}" --step-weights "$OUT/weights-$run.json" --out "$OUT/eval-$set-$run.json"
  done
done
/usr/bin/python3 models/experiments/augment-helps/summarize.py "$OUT" | tee "$OUT/table.md"
