#!/usr/bin/env bash
# Presence on real frames (docs/real-data.md): nerve-real has no frame without a nerve, so presence can only
# be looked at on kaggle-sample's 50 training frames of subject 1 (some without a nerve). They are brought
# to nerve-real's form (580x420 padded to 580x580 with grey 128, resized to 256x256), then a model that
# never saw subject 1 (a cv fold that held it out) predicts them, and `evaluate` scores the masks.
#   bash bench/presence-subject1.sh results/real5/fast/fold-0 [work/subject1]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; work=${2:-work/subject1}
sample=../shared/data/kaggle-sample/train
[ -d "$sample" ] || { echo "presence-subject1: $sample is missing (../shared/data not beside the project)" >&2; exit 1; }
mkdir -p "$work/frames"
node --input-type=module -e '
import sharp from "sharp";
import fs from "node:fs";
const [src, dst] = process.argv.slice(1);
for (const f of fs.readdirSync(src).filter((f) => f.endsWith(".tif"))) {
  const mask = f.endsWith("_mask.tif");
  const out = `${dst}/${f.replace(/\.tif$/, ".png")}`;
  const pad = { top: 80, bottom: 80, left: 0, right: 0, background: { r: mask ? 0 : 128, g: mask ? 0 : 128, b: mask ? 0 : 128 } };
  let img = sharp(`${src}/${f}`).greyscale().extend(pad).resize(256, 256);
  if (mask) img = img.threshold(128);
  await img.png().toFile(out);
}' "$sample" "$work/frames"
node dist/src/cli/main.js predict --model "$model" "$work"/frames/*[0-9].png --out "$work/pred" --no-overlays --quiet >/dev/null
node dist/src/cli/main.js evaluate --truth "$work/frames" --pred "$work/pred" --width 256 --height 256 --json |
  node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const r = JSON.parse(s), c = r.confusion, empty = r.images - r.withTarget;
  console.log(`subject 1: ${r.images} frames, ${empty} without a nerve`);
  console.log(`Kaggle score ${r.kaggle.toFixed(4)} (all-empty baseline ${(empty / r.images).toFixed(4)}); Dice on nerve frames ${r.dice.toFixed(4)}`);
  console.log(`mask / no mask vs nerve / no nerve: tp ${c.tp} fp ${c.fp} fn ${c.fn} tn ${c.tn}`);
});'
