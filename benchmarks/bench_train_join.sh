#!/usr/bin/env bash
# Peak memory and wall time of `ferrum-rrl train` (and calibrate's input reading, which is the same) against the
# size of the vari_rrlyrae --catalogue and the --labels file: each of ROWS rows, of which only the simulated
# training set's STARS stars have epoch photometry, as a user's whole-DR3 catalogue and a survey's labels against
# a training set of a few hundred stars. Each size is run with the build's binary and, when BEFORE_EXE is given,
# that binary (e.g. a build before the join was streamed) for sizes up to BEFORE_MAX_ROWS; the model files are
# compared with `cmp`, and with the model trained on the set's own catalogue and labels (no extra rows). A tiny
# network trained for one epoch: what is measured is reading and joining the inputs, not training.
# Prints a table and, as the last line, one JSON object.
# usage: benchmarks/bench_train_join.sh [BUILD_DIR] [ROWS ...]
#   env: BEFORE_EXE=path/to/old/ferrum-rrl BEFORE_MAX_ROWS=1000000 STARS=300 THREADS=2
set -euo pipefail
build=${1:-build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
stars=${STARS:-300}
threads=${THREADS:-2}
before=${BEFORE_EXE:-}
before_max=${BEFORE_MAX_ROWS:-1000000}
exe="$build/tools/ferrum-rrl"
[ -x "$exe" ] || { echo "no $exe: build the ferrum-rrl target first" >&2; exit 1; }
tmp=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench_train_join.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/peak_memory.sh"  # peak CMD...: peak KiB and wall s
d="$tmp/set"
"$exe" simulate --n-rrab $((stars * 2 / 3)) --n-rrc $((stars - stars * 2 / 3)) --seed 7 --out "$d" --quiet
cat > "$tmp/cfg.json" <<'JSON'
{"architecture": "gru_fourier", "gru_sizes": [4], "dropout": [0.1], "max_epochs": 1, "batch_size": 64, "folds": 2}
JSON
train() {  # EXE CATALOGUE LABELS OUT
  peak "$1" train --epoch-photometry "$d/epoch_photometry.csv" --catalogue "$2" --labels "$3" --out "$4" \
    --config "$tmp/cfg.json" --threads "$threads" --seed 1 --quiet
}
mkdir -p "$tmp/ref"
read -r _ _ < <(train "$exe" "$d/vari_rrlyrae.csv" "$d/labels.csv" "$tmp/ref/m.json")
json="{\"benchmark\":\"train_join\",\"threads\":$threads,\"stars\":$stars,\"runs\":["
first=1
printf '%-10s %-12s %-12s %-22s %-10s %-8s %-14s\n' rows "catalogue MiB" "labels MiB" mode "peak MiB" "wall s" "cmp (own rows)"
for n in "${sizes[@]}"; do
  extra=$((n - stars))
  # ROWS - STARS stars no light curve has (ids from 10^15; mawk prints %d as a 32-bit int), then the simulated ones
  awk -F, -v extra="$extra" 'NR == 1 { print; next } NR == 2 { row = $0; sub(/^[^,]*/, "", row)
      for (k = 0; k < extra; ++k) printf "1%015d%s\n", k, row } { print }' "$d/vari_rrlyrae.csv" > "$tmp/cat.csv"
  awk -F, -v extra="$extra" 'NR == 1 { print; next } NR == 2 { row = $0; sub(/^[^,]*/, "", row)
      for (k = 0; k < extra; ++k) printf "1%015d%s\n", k, row } { print }' "$d/labels.csv" > "$tmp/labels.csv"
  cmib=$(( $(stat -c %s "$tmp/cat.csv") / 1048576 ))
  lmib=$(( $(stat -c %s "$tmp/labels.csv") / 1048576 ))
  modes=(after)
  [ -n "$before" ] && [ "$n" -le "$before_max" ] && modes+=(before)
  for mode in "${modes[@]}"; do
    run="$exe"
    [ "$mode" = before ] && run="$before"
    mkdir -p "$tmp/$mode"
    read -r kib wall < <(train "$run" "$tmp/cat.csv" "$tmp/labels.csv" "$tmp/$mode/m.json")
    same=same
    cmp -s "$tmp/ref/m.json" "$tmp/$mode/m.json" || same=DIFFERENT
    label="$mode"
    [ "$mode" = before ] && label="before ($(basename "$before"))"
    printf '%-10s %-12s %-12s %-22s %-10s %-8s %-14s\n' "$n" "$cmib" "$lmib" "$label" $((kib / 1024)) "$wall" "$same"
    [ $first = 1 ] || json+=","
    first=0
    json+="{\"rows\":$n,\"catalogue_mib\":$cmib,\"labels_mib\":$lmib,\"mode\":\"$mode\",\"peak_mib\":$((kib / 1024)),"
    json+="\"wall_s\":$wall,\"cmp\":\"$same\"}"
    if ls -A "$tmp/$mode" | grep -q '^\.ferrum-sort-'; then echo "temporary files left in $tmp/$mode" >&2; exit 1; fi
  done
done
echo "$json]}"
