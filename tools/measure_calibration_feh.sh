#!/usr/bin/env bash
# The measurement of docs/rrlyrae.md, "Uncertainties that mean what they say": the pretrained model's sigma
# recalibrated by `ferrum-rrl calibrate` on one set and scored on another, overall and per quintile of the
# prediction (tools/calibration_quintiles.py), for the likelihood and coverage methods, without (K = 0) and with
# the prediction-dependent factor (--calibration-feh-bins K):
#   * field half b (seed 975) -> field half a (seed 971), and half a (971) -> half b (974): the `field` family,
#     real Galactic field RRab shapes with LAMOST [Fe/H], each half's stars never in the other's;
#   * new stars of the pretrained model's five training families (seeds 931-935) -> other new stars of them
#     (seeds 941-945): the simulator families, where nothing may get worse;
#   * field half b -> those simulator families (what a field-fitted calibration does on them).
# The pretrained model's own calibration is scored on every scored set too ("pretrained").
#
#   tools/measure_calibration_feh.sh [ferrum-rrl] [TABLE] [WORKDIR] [K...]
#
# Defaults: build/tools/ferrum-rrl, ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv, a fresh
# mktemp directory (kept; sets already simulated there are reused), K = 0 5. Prints one line per run and
# writes WORKDIR/summary.txt; about 15 min on 1 core for K = 0 5.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$root/build/tools/ferrum-rrl}
T=${2:-$root/../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv}
W=${3:-$(mktemp -d)}
shift $(($# < 3 ? $# : 3))
KS=${*:-0 5}
PY=${PYTHON:-/usr/bin/python3}
[[ -x $B ]] || { echo "measure_calibration_feh.sh: no $B (build the ferrum-rrl target)" >&2; exit 1; }
[[ -r $T ]] || { echo "measure_calibration_feh.sh: cannot read $T" >&2; exit 1; }
mkdir -p "$W"
B=$(realpath "$B"); T=$(realpath "$T"); W=$(realpath "$W")
cd "$W"
field() {  # field DIR HALF SEED SID
  [ -f "$1/labels.csv" ] || $B simulate --family field --params "$T" --field-half "$2" --n-rrab 4000 --n-rrc 0 \
    --seed "$3" --first-source-id "$4" --out "$1" --quiet
}
families() {  # families DIR SEED0 SID0: five families of 600 RRab + 300 RRc (seed SEED0 + k), then DIR/all
  local D=$1 s0=$2 id0=$3 k=0 f t
  [ -f "$D/all/labels.csv" ] && return 0
  mkdir -p "$D/all"
  for f in ferrum bic heavy dense spectro; do
    k=$((k + 1))
    $B simulate --family "$f" --truth lamost --intrinsic-scatter 0.286 --n-rrab 600 --n-rrc 300 \
       --seed $((s0 + k)) --first-source-id $((id0 + k * 1000000)) --out "$D/$f" --quiet
    for t in epoch_photometry vari_rrlyrae labels; do
      if [ $k = 1 ]; then head -n 1 "$D/$f/$t.csv" > "$D/all/$t.csv"; fi
      tail -n +2 "$D/$f/$t.csv" >> "$D/all/$t.csv"
    done
  done
}
score() {  # score SET MODEL TAG: predict, then coverage overall and per quintile
  local S=$1 M=$2 tag=$3
  [ -f "$S/pred_$tag.csv" ] || nice -n 10 "$B" predict ${M:+--model "$M"} --epoch-photometry "$S/epoch_photometry.csv" \
       --catalogue "$S/vari_rrlyrae.csv" --out "$S/pred_$tag.csv" --threads 1 --quiet
  "$PY" "$root/tools/calibration_quintiles.py" "$S/labels.csv" "$S/pred_$tag.csv" --tag "$S $tag" \
        --json "$S/quintiles_$tag.json" | tee -a summary.txt
}
calibrate() {  # calibrate SET METHOD K -> cal_SET_METHOD_K.json
  local C=$1 m=$2 k=$3 out
  out=cal_$(echo "$C" | tr / _)_${m}_k$k.json
  [ -f "$out" ] || nice -n 10 "$B" calibrate --epoch-photometry "$C/epoch_photometry.csv" \
       --catalogue "$C/vari_rrlyrae.csv" --labels "$C/labels.csv" --label-column feh_true --error-column none \
       --method "$m" $([ "$k" = 0 ] || echo --calibration-feh-bins "$k") --threads 1 --out "$out" --quiet
  echo "$W/$out"
}
field fa971 a 971 6000000000000000000
field fb975 b 975 6100000000000000000
field fb974 b 974 6100000000000000000
families fam1 930 8100000000000000000
families fam2 940 8200000000000000000
for S in fa971 fb974 fam2/all; do score "$S" "" pretrained; done
for k in $KS; do
  for m in likelihood coverage; do
    cb=$(calibrate fb975 "$m" "$k"); score fa971 "$cb" "b_${m}_k$k"; score fam2/all "$cb" "b_${m}_k$k"
    ca=$(calibrate fa971 "$m" "$k"); score fb974 "$ca" "a_${m}_k$k"
    cf=$(calibrate fam1/all "$m" "$k"); score fam2/all "$cf" "fam1_${m}_k$k"
  done
done
echo "work directory: $W (summary.txt)"
