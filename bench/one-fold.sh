#!/usr/bin/env bash
# The default recipe (`real`) on fold 0 of each shared real set (5 folds by group, fold seed 1): held-out
# Dice and HD95 as `cv` reports them (at the prepared working size). A quick check of what the own-data
# path gives end to end, not the full study (bench/study.sh): about 20 minutes on 2 cores.
#   bash bench/one-fold.sh ../shared/data work/one-fold
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}; out=${2:-work/one-fold}
N="node dist/src/cli/main.js"
mkdir -p "$out"
prep() { # name input extra-prepare-flags...
  local name=$1 input=$2; shift 2
  [ -f "$out/$name/prepared/manifest.json" ] ||
    $N prepare --input "$input" --out "$out/$name/prepared" --split group --folds 5 --seed 1 --quiet "$@" | tail -3
}
prep nerve-real "$shared/nerve-real"
prep ddti-thyroid "$shared/ddti-thyroid"
prep usgra-nerve "$shared/usgra-nerve-vessel" --mask-label 1
for name in nerve-real ddti-thyroid usgra-nerve; do
  echo "== $name $(date -u +%H:%M:%S)"
  $N cv --data "$out/$name/prepared" --preset real --folds 5 --fold-seed 1 --fold 0 --out "$out/$name/cv" --resume --quiet |
    tail -4
done
