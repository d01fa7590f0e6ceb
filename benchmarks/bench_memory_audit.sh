#!/usr/bin/env bash
# The memory audit of issue #13: peak resident memory (and wall time) of the commands of the three tools that hold
# an input in memory, at two input sizes, so the growth per row can be read off (the streamed commands, ferrum-rrl
# predict, classical and evaluate, ferrum-giants predict and evaluate and ferrum-relations predict, have their
# own benchmarks: bench_predict_memory.sh, bench_predict_join.sh, bench_train_join.sh and evaluate's). Inputs are
# generated: simulated sets (`simulate`), for ferrum-relations a random table of ROWS rows, for ferrum-giants
# train --model ua_csnet a catalogue of ROWS rows beside 200 spectra. The training
# commands run one epoch of a tiny network: their memory is that of holding the training set, which is the user's
# choice. Prints a table and, as the last line, one JSON object.
# usage: benchmarks/bench_memory_audit.sh [BUILD_DIR] [SMALL LARGE]   (rows of the generated tables)
#   env: THREADS=2; RRL_STARS="300 3000" GIANTS="10000 100000" (the sizes of the simulated sets)
set -euo pipefail
build=${1:-build}
small=${2:-100000}
large=${3:-1000000}
threads=${THREADS:-2}
read -r rrl_small rrl_large <<< "${RRL_STARS:-300 3000}"
read -r gi_small gi_large <<< "${GIANTS:-10000 100000}"
rrl="$build/tools/ferrum-rrl" giants="$build/tools/ferrum-giants" rel="$build/tools/ferrum-relations"
for x in "$rrl" "$giants" "$rel"; do [ -x "$x" ] || { echo "no $x: build the tools first" >&2; exit 1; }; done
tmp=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench_memory_audit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/peak_memory.sh"  # peak CMD...: peak KiB and wall s
json="{\"benchmark\":\"memory_audit\",\"threads\":$threads,\"runs\":["
first=1
printf '%-34s %-12s %-10s %-10s %-8s\n' command input "file MiB" "peak MiB" "wall s"
measure() {  # NAME SIZE FILE cmd...
  local name=$1 size=$2 file=$3
  shift 3
  read -r kib wall < <(peak "$@")
  local mib=0
  [ -n "$file" ] && mib=$(( $(du -cb $file | tail -n1 | cut -f1) / 1048576 ))
  printf '%-34s %-12s %-10s %-10s %-8s\n' "$name" "$size" "$mib" $((kib / 1024)) "$wall"
  [ $first = 1 ] || json+=","
  first=0
  json+="{\"command\":\"$name\",\"size\":$size,\"file_mib\":$mib,\"peak_mib\":$((kib / 1024)),\"wall_s\":$wall}"
}
# ferrum-relations: a table of ROWS rows (id, target, its error, three features)
for n in "$small" "$large"; do
  t="$tmp/t$n.csv"
  /usr/bin/python3 -c 'import sys, numpy as np
n = int(sys.argv[1]); g = np.random.default_rng(1)
p, a, b = g.uniform(0.3, 0.8, n), g.normal(2.0, 0.3, n), g.normal(0, 1, n)
y = -1.5 - 3.0 * (p - 0.55) + 0.5 * (a - 2.0) + g.normal(0, 0.2, n)
with open(sys.argv[2], "w") as f:
    f.write("id,feh,feh_err,period,phi31,amp\n")
    np.savetxt(f, np.column_stack([np.arange(n), y, np.full(n, 0.1), p, a, b]), delimiter=",", fmt=["%d"] + ["%.6f"] * 5)' "$n" "$t"
  measure "relations fit" "$n" "$t" "$rel" fit --table "$t" --target feh --target-error feh_err \
    --features period,phi31 --out "$tmp/rel.json" --quiet
  measure "relations predict" "$n" "$t" "$rel" predict --model "$tmp/rel.json" --table "$t" --id id \
    --out "$tmp/relp.csv" --quiet
  measure "relations cv (5 folds x 2)" "$n" "$t" "$rel" cv --table "$t" --target feh --linear period,phi31 \
    --repeats 2 --quiet
  measure "relations select (3 folds)" "$n" "$t" "$rel" select --table "$t" --target feh \
    --features period,phi31,amp --folds 3 --quiet
  rm -f "$t"
done
# ferrum-giants: simulate (the whole set is drawn, then written), train bnn (one epoch), predict, evaluate
for n in "$gi_small" "$gi_large"; do
  g="$tmp/g$n"
  measure "giants simulate --no-spectra" "$n" "" "$giants" simulate --n "$n" --no-spectra --out "$g" --quiet
  measure "giants train bnn (1 epoch)" "$n" "$g/catalogue.csv" "$giants" train --model bnn --catalogue \
    "$g/catalogue.csv" --out "$tmp/gb.json" --max-epochs 1 --folds 2 --mc-samples 2 --threads "$threads" --quiet
  measure "giants predict" "$n" "$g/catalogue.csv" "$giants" predict --model "$tmp/gb.json" --catalogue \
    "$g/catalogue.csv" --out "$tmp/gp.csv" --threads "$threads" --quiet
  measure "giants evaluate" "$n" "$g/catalogue.csv $tmp/gp.csv" "$giants" evaluate --predictions "$tmp/gp.csv" \
    --catalogue "$g/catalogue.csv"
  rm -rf "$g"
done
# ferrum-giants train --model ua_csnet: its training set is the --xp spectra (200 stars); the catalogue of labels
# beside it has SMALL or LARGE rows, all but 200 of them stars without a spectrum (ids from 7*10^15)
gx="$tmp/gx"
"$giants" simulate --n 200 --seed 5 --out "$gx" --quiet
for n in "$small" "$large"; do
  awk -F, -v extra=$((n - 200)) 'NR == 1 { print; next } NR == 2 { row = $0; sub(/^[^,]*/, "", row)
      for (k = 0; k < extra; ++k) printf "7%015d%s\n", k, row } { print }' "$gx/catalogue.csv" > "$tmp/gcat.csv"
  measure "giants train ua_csnet (1 epoch)" "$n" "$tmp/gcat.csv" "$giants" train --model ua_csnet --xp \
    "$gx/xp_spectra.csv" --catalogue "$tmp/gcat.csv" --out "$tmp/ua.json" --max-epochs 1 --threads "$threads" --quiet
  rm -f "$tmp/gcat.csv"
done
# ferrum-rrl: simulate, train (one epoch), calibrate (its input reading is train's), merge of 2 shards
cat > "$tmp/cfg.json" <<'JSON'
{"architecture": "gru_fourier", "gru_sizes": [4], "dropout": [0.1], "max_epochs": 1, "batch_size": 64, "folds": 2}
JSON
for n in "$rrl_small" "$rrl_large"; do
  s="$tmp/s$n"
  measure "rrl simulate" "$n" "" "$rrl" simulate --n-rrab $((n * 2 / 3)) --n-rrc $((n - n * 2 / 3)) --seed 7 \
    --out "$s" --threads "$threads" --quiet
  in=(--epoch-photometry "$s/epoch_photometry.csv" --catalogue "$s/vari_rrlyrae.csv")
  measure "rrl train (1 epoch)" "$n" "$s/epoch_photometry.csv" "$rrl" train "${in[@]}" --labels "$s/labels.csv" \
    --out "$tmp/m.json" --config "$tmp/cfg.json" --threads "$threads" --quiet
  measure "rrl calibrate" "$n" "$s/epoch_photometry.csv" "$rrl" calibrate "${in[@]}" --labels "$s/labels.csv" \
    --model "$tmp/m.json" --out "$tmp/mc.json" --mc-samples 0 --threads "$threads" --quiet
  for k in 0 1; do
    "$rrl" predict "${in[@]}" --model "$tmp/m.json" --out "$tmp/p.csv" --shard "$k/2" --mc-samples 0 \
      --threads "$threads" --quiet 2> /dev/null
  done
  measure "rrl merge (2 shards)" "$n" "$tmp/p.csv.shard-*" "$rrl" merge --out "$tmp/p.csv" --shards 2
  rm -rf "$s" "$tmp"/p.csv*
done
echo "$json]}"
