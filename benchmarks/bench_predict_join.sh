#!/usr/bin/env bash
# Peak memory and wall time of `ferrum-rrl predict`'s joins against the size of the table joined: the vari_rrlyrae
# --catalogue (with --epoch-photometry) and the --stars table (with --light-curves), each of ROWS rows of which
# only the simulated set's stars (STARS of them) have light curves, as a user's whole-DR3 catalogue against one
# epoch-photometry file of many. Each size is run three ways: the default (records sorted through temporary files
# beside --out beyond 32 MiB), everything in memory (FERRUM_PREDICT_RUN_BYTES=64 GiB: the fast path), and, when
# BEFORE_EXE is given, that binary (e.g. a build of main before the join was streamed) for sizes up to
# BEFORE_MAX_ROWS. The outputs are compared with `cmp`. Prints a table and, as the last line, one JSON object.
# usage: benchmarks/bench_predict_join.sh [BUILD_DIR] [ROWS ...]
#   env: BEFORE_EXE=path/to/old/ferrum-rrl BEFORE_MAX_ROWS=1000000 STARS=500 THREADS=2
set -euo pipefail
build=${1:-build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
stars=${STARS:-500}
threads=${THREADS:-2}
before=${BEFORE_EXE:-}
before_max=${BEFORE_MAX_ROWS:-1000000}
exe="$build/tools/ferrum-rrl"
[ -x "$exe" ] || { echo "no $exe: build the ferrum-rrl target first" >&2; exit 1; }
tmp=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench_predict_join.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/peak_memory.sh"  # peak CMD...: peak KiB and wall s
d="$tmp/set"
"$exe" simulate --n-rrab $((stars * 2 / 3)) --n-rrc $((stars - stars * 2 / 3)) --seed 7 --out "$d" --quiet
awk -F, 'NR == 1 { print "id,time,mag,mag_err"; next }
  $3 == "G" && $10 == "false" && $5 != "" { printf "%s,%s,%s,%.6g\n", $1, $4, $5, 1.0857362 * $7 / $6 }' \
  "$d/epoch_photometry.csv" > "$d/lc.csv"
json="{\"benchmark\":\"predict_join\",\"threads\":$threads,\"stars\":$stars,\"runs\":["
first=1
printf '%-10s %-10s %-10s %-26s %-10s %-8s %-6s\n' rows table "MiB" mode "peak MiB" "wall s" cmp
for n in "${sizes[@]}"; do
  extra=$((n - stars))
  # the catalogue: ROWS - STARS stars no light curve has (ids from 10^15; mawk prints %d as a 32-bit int), then the simulated stars
  awk -F, -v extra="$extra" 'NR == 1 { print; next } NR == 2 { row = $0; sub(/^[^,]*/, "", row)
      for (k = 0; k < extra; ++k) printf "1%015d%s\n", k, row } { print }' "$d/vari_rrlyrae.csv" > "$tmp/cat.csv"
  awk -F, -v extra="$extra" 'NR == 1 { print "id,period,t0_mjd,type"
      for (k = 0; k < extra; ++k) printf "1%015d,0.5,1000.0,RRab\n", k; next }
    { print $1 "," ($2 == "RRab" ? $3 : $4) "," $5 "," $2 }' "$d/vari_rrlyrae.csv" > "$tmp/stars.csv"
  for table in catalogue stars; do
    if [ "$table" = catalogue ]; then
      file="$tmp/cat.csv"
      args=(--epoch-photometry "$d/epoch_photometry.csv" --catalogue "$file")
    else
      file="$tmp/stars.csv"
      args=(--light-curves "$d/lc.csv" --stars "$file")
    fi
    mib=$(( $(stat -c %s "$file") / 1048576 ))
    modes=(default memory)
    [ -n "$before" ] && [ "$n" -le "$before_max" ] && modes+=(before)
    for mode in "${modes[@]}"; do
      run=("$exe")
      [ "$mode" = memory ] && run=(env FERRUM_PREDICT_RUN_BYTES=68719476736 "$exe")
      [ "$mode" = before ] && run=("$before")
      out="$tmp/p_$mode.csv"
      read -r kib wall < <(peak "${run[@]}" predict "${args[@]}" --out "$out" --mc-samples 0 --threads "$threads" --quiet)
      same=ref
      [ "$mode" = default ] || { cmp -s "$tmp/p_default.csv" "$out" && same=same || same=DIFFERENT; }
      label="$mode"
      [ "$mode" = default ] && label="default (32 MiB runs)"
      [ "$mode" = memory ] && label="in memory"
      [ "$mode" = before ] && label="before ($(basename "$before"))"
      printf '%-10s %-10s %-10s %-26s %-10s %-8s %-6s\n' "$n" "$table" "$mib" "$label" $((kib / 1024)) "$wall" "$same"
      [ $first = 1 ] || json+=","
      first=0
      json+="{\"rows\":$n,\"table\":\"$table\",\"file_mib\":$mib,\"mode\":\"$mode\",\"peak_mib\":$((kib / 1024)),"
      json+="\"wall_s\":$wall,\"cmp\":\"$same\"}"
    done
    if ls -A "$tmp" | grep -q '^\.ferrum-sort-'; then echo "temporary files left in $tmp" >&2; exit 1; fi
  done
done
echo "$json]}"
