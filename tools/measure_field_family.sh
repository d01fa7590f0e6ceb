#!/usr/bin/env bash
# The measurement of docs/rrlyrae.md, "A population we did not simulate: Galactic field RRab": the pretrained
# model, the classical pipeline and shape-only floors on the `field` family (real Galactic field RRab of the
# LAMOST table, half a), and optionally (--train) a model trained on the four LMC-drawn families with the
# cross-family calibration, scored on the same stars (the field fold of a leave-one-family-out), and
# optionally (--recalibrate) the pretrained model's sigma refitted by `ferrum-rrl calibrate` (likelihood and
# coverage methods) on stars that are not the scored ones: field half b (seed 975; the scored draws are of
# half a), new stars of its five training families (seeds 931-935), and field half a (seed 971, scored on a
# half-b draw, seed 974) — docs/rrlyrae.md, "Uncertainties that mean what they say".
#
#   tools/measure_field_family.sh [--train] [--recalibrate] [ferrum-rrl] [TABLE] [WORKDIR]
#
# Defaults: build/tools/ferrum-rrl, ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv, a fresh
# mktemp directory (kept, printed at the end). Needs /usr/bin/python3 with numpy and scipy
# (tools/field_family_metrics.py). Without --train: about 1 min on 1 core; with it about 20 min more; with
# --recalibrate about 10 min more.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
train=0 recal=0
if [ "${1:-}" = --train ]; then train=1; shift; fi
if [ "${1:-}" = --recalibrate ]; then recal=1; shift; fi
B=${1:-$root/build/tools/ferrum-rrl}
T=${2:-$root/../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv}
W=${3:-$(mktemp -d)}
PY=${PYTHON:-/usr/bin/python3}
[[ -x $B ]] || { echo "measure_field_family.sh: no $B (build the ferrum-rrl target)" >&2; exit 1; }
[[ -r $T ]] || { echo "measure_field_family.sh: cannot read $T" >&2; exit 1; }
mkdir -p "$W"
B=$(realpath "$B"); T=$(realpath "$T"); W=$(realpath "$W")
cd "$W"
score() {  # score SET [MODEL]: predictions, classical, metrics
  local S=$1 M=${2:-} tag=${3:-pretrained}
  nice -n 10 "$B" predict ${M:+--model "$M"} --epoch-photometry "$S/epoch_photometry.csv" \
       --catalogue "$S/vari_rrlyrae.csv" --out "$S/pred_$tag.csv" --threads 1 --quiet
  [ -f "$S/classical.csv" ] || nice -n 10 "$B" classical --epoch-photometry "$S/epoch_photometry.csv" \
       --catalogue "$S/vari_rrlyrae.csv" --out "$S/classical.csv" --threads 1 --quiet
  "$PY" "$root/tools/field_family_metrics.py" "$S" "$T" --pred "$S/pred_$tag.csv" --classical "$S/classical.csv" \
        --json "$S/metrics_$tag.json" > /dev/null
  echo "$W/$S/metrics_$tag.json"
}
families() {  # families DIR N_RRAB N_RRC SEED0 SID0 FAMILY...: each simulated (seed SEED0 + k), then DIR/all
  local D=$1 na=$2 nc=$3 s0=$4 id0=$5 k=0 f t
  shift 5
  mkdir -p "$D/all"
  for f in "$@"; do
    k=$((k + 1))
    $B simulate --family "$f" --truth lamost --intrinsic-scatter 0.286 --n-rrab "$na" --n-rrc "$nc" \
       --seed $((s0 + k)) --first-source-id $((id0 + k * 1000000)) --out "$D/$f" --quiet
    for t in epoch_photometry vari_rrlyrae labels; do
      if [ $k = 1 ]; then head -n 1 "$D/$f/$t.csv" > "$D/all/$t.csv"; fi
      tail -n +2 "$D/$f/$t.csv" >> "$D/all/$t.csv"
    done
  done
}
# two draws of 4,000 field RRab (half a), and one without jitter (the parents' catalogue shapes exactly)
$B simulate --family field --params "$T" --n-rrab 4000 --n-rrc 0 --seed 971 --first-source-id 6000000000000000000 --out f971 --quiet
$B simulate --family field --params "$T" --n-rrab 4000 --n-rrc 0 --seed 972 --first-source-id 6000000000000000000 --out f972 --quiet
$B simulate --family field --params "$T" --n-rrab 4000 --n-rrc 0 --seed 973 --field-jitter 0 --first-source-id 6000000000000000000 --out f973j0 --quiet
for S in f971 f972 f973j0; do score $S; done
if [ $train = 1 ]; then
  # the four LMC-drawn families on the spectroscopic scale (as the pretrained model's recipe), RRab only
  families tr 800 0 980 5000000000000000000 ferrum bic heavy dense
  echo '{"architecture":"gru_fourier","heteroscedastic":true,"max_epochs":15,"reduce_lr_factor":0.5,"reduce_lr_patience":2,"learning_rate":0.005,"density_weighting":false}' > gfh.json
  nice -n 10 "$B" train --epoch-photometry tr/all/epoch_photometry.csv --catalogue tr/all/vari_rrlyrae.csv \
       --labels tr/all/labels.csv --label-column feh_true --error-column none --folds 0 --seed 1 --config gfh.json \
       --cross-family --cross-family-epochs 8 --threads 1 --out cf.json --quiet
  for S in f971 f972; do score $S "$W/cf.json" crossfamily; done
fi
if [ $recal = 1 ]; then
  $B simulate --family field --params "$T" --field-half b --n-rrab 4000 --n-rrc 0 --seed 974 \
     --first-source-id 6100000000000000000 --out fb974 --quiet
  $B simulate --family field --params "$T" --field-half b --n-rrab 4000 --n-rrc 0 --seed 975 \
     --first-source-id 6100000000000000000 --out fb975 --quiet
  families fam 600 300 930 8100000000000000000 ferrum bic heavy dense spectro  # its families, new stars
  score fb974 > /dev/null
  for C in fb975 fam/all f971; do
    for m in likelihood coverage; do
      tag=$(echo "$C" | tr / _)_$m
      nice -n 10 "$B" calibrate --epoch-photometry "$C/epoch_photometry.csv" --catalogue "$C/vari_rrlyrae.csv" \
           --labels "$C/labels.csv" --label-column feh_true --error-column none --method $m --threads 1 \
           --out "cal_$tag.json" --quiet
      if [ "$C" = f971 ]; then score fb974 "$W/cal_$tag.json" "$tag"; else
        for S in f971 f972; do score $S "$W/cal_$tag.json" "$tag"; done
      fi
    done
  done
fi
echo "work directory: $W"
