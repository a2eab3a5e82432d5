#!/usr/bin/env bash
# The real-data recipe study (docs/real-data.md): group K-fold cross-validation of each recipe in
# bench/study/*.json (overrides of the fast preset) on a prepared real data set, same folds and seeds
# for every variant, then one table. Long: run it in the background and come back; reruns resume.
#   bash bench/study.sh work/nerve results/study 3 8 fast w16-96 bce      # data out folds epochs variants...
# epochs "preset" trains each variant for its own recipe's epochs.
# SEED=2 for another training seed; VALIDATION=none (or held-out) for cv --validation.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1; out=$2; folds=$3; epochs=$4; shift 4
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=($(ls bench/study/*.json | xargs -n1 basename | sed 's/\.json$//'))
mkdir -p "$out"
for v in "${variants[@]}"; do
  echo "== $v $(date -u +%H:%M:%S)"
  node dist/src/cli/main.js cv --data "$data" --preset "bench/study/$v.json" --folds "$folds" --fold-seed 1 \
    $([ "$epochs" = preset ] || echo --epochs "$epochs") --seed "${SEED:-1}" ${VALIDATION:+--validation "$VALIDATION"} \
    --out "$out/$v" --resume --quiet | tail -1
done
node dist/bench/study-table.js "$out" "${variants[@]}"
