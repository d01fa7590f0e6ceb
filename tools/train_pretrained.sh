#!/usr/bin/env bash
# The recipe of the pretrained RR Lyrae model, models/rrlyrae_default.json (installed as
# share/ferrum/models/rrlyrae_default.json; `ferrum-rrl predict` uses it when no --model is given).
#
# Five simulator families (docs/simulator.md: noise model, harmonics, cadence, Blazhko, label convention),
# 1,500 RRab + 750 RRc each, with the true [Fe/H] on the spectroscopic scale: the LAMOST relation
# (relations/spectroscopic.hpp; RRc: Muraveva et al. 2025) on the true light-curve parameters plus its
# fitted intrinsic scatter, 0.286 dex. One model per type with the default architecture (GRU + Fourier
# features, heteroscedastic head), trained on that truth; sigma calibrated on the early-stopping hold-out.
# Usage: tools/train_pretrained.sh [ferrum-rrl] [out.json] [more train options]
#   (12.5 min wall on the 2 shared cores). More options go to the train call: with
#   `--cross-family --cross-family-epochs 8` (sigma calibrated on an inner leave-one-family-out over the five
#   families; labels.csv has the family column) it took 55.3 min wall, 34 CPU-min, on the shared cores; that
#   file was measured against this one on the same new stars and not adopted (docs/rrlyrae.md, "The
#   pretrained model": its sigma is wider and over-covers well-sampled stars).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/tools/ferrum-rrl}
OUT=${2:-models/rrlyrae_default.json}
shift $(($# < 2 ? $# : 2))
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/all"
k=0
for f in ferrum bic heavy dense spectro; do
  k=$((k + 1))
  "$B" simulate --family "$f" --truth lamost --intrinsic-scatter 0.286 --n-rrab 1500 --n-rrc 750 \
       --seed $((900 + k)) --first-source-id $((8000000000000000000 + k * 1000000)) --out "$W/$f" --quiet
  for t in epoch_photometry vari_rrlyrae labels; do
    if [ "$k" = 1 ]; then head -n 1 "$W/$f/$t.csv" > "$W/all/$t.csv"; fi
    tail -n +2 "$W/$f/$t.csv" >> "$W/all/$t.csv"
  done
done
"$B" train --epoch-photometry "$W/all/epoch_photometry.csv" --catalogue "$W/all/vari_rrlyrae.csv" \
     --labels "$W/all/labels.csv" --label-column feh_true --error-column none --folds 0 --seed 1 \
     --out "$W/model.json" --report "$W/model.json.cv.json" "$@"
cp "$W/model.json" "$OUT"
echo "wrote $OUT ($(wc -c < "$OUT") bytes)"
