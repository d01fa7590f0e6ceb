#!/usr/bin/env bash
# Peak memory of `ferrum-rrl predict` on the archive's epoch photometry, and on the same light curves as a
# per-star table (--light-curves with --stars), against the size of the input: streamed in batches (the
# default, --batch 1024) beside the whole file held at once (--batch larger than the file, what predict did
# before it streamed), on two simulated sets of different size. Streaming memory should not grow with the
# input. Prints a table and, as the last line, one JSON object.
# usage: benchmarks/bench_predict_memory.sh [BUILD_DIR] [SMALL_STARS] [LARGE_STARS] [THREADS]
set -euo pipefail
build=${1:-build}
small=${2:-10000}
large=${3:-60000}
threads=${4:-2}
exe="$build/tools/ferrum-rrl"
[ -x "$exe" ] || { echo "no $exe: build the ferrum-rrl target first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# peak resident memory (KiB) and wall seconds of a command, measured by the kernel for the child
. "$(dirname "$0")/peak_memory.sh"  # peak CMD...: peak KiB and wall s
rows=()
json="{\"benchmark\":\"predict_memory\",\"threads\":$threads,\"runs\":["
first=1
printf '%-10s %-18s %-14s %-18s %-14s %-10s\n' stars input "input MiB" mode "peak MiB" "wall s"
for n in "$small" "$large"; do
  d="$tmp/set$n"
  "$exe" simulate --n-rrab $((n * 2 / 3)) --n-rrc $((n - n * 2 / 3)) --seed 7 --out "$d" --quiet
  # the same curves as an id,time,mag,mag_err table (G epochs the pipeline kept) and an id,period,t0_mjd,type table
  awk -F, 'NR == 1 { print "id,period,t0_mjd,type"; next }
    { print $1 "," ($2 == "RRab" ? $3 : $4) "," $5 "," $2 }' "$d/vari_rrlyrae.csv" > "$d/stars.csv"
  awk -F, 'NR == 1 { print "id,time,mag,mag_err"; next }
    $3 == "G" && $10 == "false" && $5 != "" { printf "%s,%s,%s,%.6g\n", $1, $4, $5, 1.0857362 * $7 / $6 }' \
    "$d/epoch_photometry.csv" > "$d/lc.csv"
  for input in epoch-photometry light-curves; do
    if [ "$input" = epoch-photometry ]; then
      file="$d/epoch_photometry.csv"
      args=(--epoch-photometry "$file" --catalogue "$d/vari_rrlyrae.csv")
    else
      file="$d/lc.csv"
      args=(--light-curves "$file" --stars "$d/stars.csv")
    fi
    mib=$(( $(stat -c %s "$file") / 1048576 ))
    for mode in streamed whole; do
      batch=1024
      [ "$mode" = whole ] && batch=1000000
      read -r kib wall < <(peak "$exe" predict "${args[@]}" --out "$tmp/p.csv" --mc-samples 0 \
        --threads "$threads" --batch "$batch" --quiet)
      printf '%-10s %-18s %-14s %-18s %-14s %-10s\n' "$n" "$input" "$mib" "$mode (batch $batch)" $((kib / 1024)) \
        "$wall"
      [ $first = 1 ] || json+=","
      first=0
      json+="{\"stars\":$n,\"input\":\"$input\",\"input_mib\":$mib,\"mode\":\"$mode\",\"batch\":$batch,"
      json+="\"peak_mib\":$((kib / 1024)),\"wall_s\":$wall}"
    done
  done
done
echo "$json]}"
