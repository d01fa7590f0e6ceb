#!/usr/bin/env bash
# Strong scaling of `ferrum-rrl predict` over ranks: the same simulated Gaia DR3 bulk set (gzipped ECSV,
# dr3-bulk layout) predicted by one process, by `mpirun -np 1` and `-np 2` (rank r takes shard r, rank 0
# merges), and as a 2-task job array (`--shard 0/2` and `--shard 1/2` side by side, then `merge`), one thread
# per process. Each shard reads the whole input and keeps its stars (hash of source_id), so reading is not
# divided by the ranks; the fold, preprocessing and MC-dropout prediction are. The merged outputs of every
# run are checked identical, every column (a star's MC-dropout masks are keyed by its source_id). Then the
# same stars as FILES bulk files, predicted by one process (the glob) and with --per-file (one shard per
# file) as a 2-task job array and under `mpirun -np 2` (the files dealt to whichever rank is free), each
# shard reading only its file. Then (unless BENCH_SCALING_TRAIN=0) `ferrum-rrl train` (paper_gru, batch 256, 3 epochs) on TRAIN_STARS simulated stars
# by one process and by `mpirun -np 1` and `-np 2` (data-parallel: each batch split across the ranks), the
# model files checked identical, with the trainer's own time (epochs only: every rank reads and prepares
# the whole set) and its communication time per batch. Prints tables and, as the last line, one JSON object.
# usage: benchmarks/bench_scaling.sh [BUILD_DIR] [STARS] [REPEATS] [TRAIN_STARS] [FILES]
set -euo pipefail
build=${1:-build}
stars=${2:-2000}
repeats=${3:-2}
train_stars=${4:-1000}
nfiles=${5:-4}
exe="$build/tools/ferrum-rrl"
[ -x "$exe" ] || { echo "no $exe: build the ferrum-rrl target first" >&2; exit 1; }
have_mpi=1
command -v mpirun > /dev/null || have_mpi=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$exe" simulate --n-rrab $((stars * 2 / 3)) --n-rrc $((stars - stars * 2 / 3)) --seed 11 --format dr3-bulk \
  --out "$tmp/set" --quiet
in=(--epoch-photometry "$tmp/set/epoch_photometry.csv.gz" --catalogue "$tmp/set/vari_rrlyrae.csv.gz"
  --threads 1 --quiet)
mpi=(mpirun --oversubscribe --allow-run-as-root)
# the fastest of $repeats wall times (s) of a command; shards and outputs are removed before each try
best() {
  local out=$1
  shift
  /usr/bin/python3 -c 'import glob, os, subprocess, sys, time
out, reps, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
best = None
for _ in range(reps):
    for f in glob.glob(out + "*"):
        os.remove(f)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    w = time.perf_counter() - t
    best = w if best is None else min(best, w)
print(f"{best:.2f}")' "$out" "$repeats" "$@"
}
array2() {  # a 2-task job array on this machine: both shards side by side, then the merge
  "$exe" predict "${in[@]}" --out "$1" --shard 0/2 & local p0=$!
  "$exe" predict "${in[@]}" --out "$1" --shard 1/2 & local p1=$!
  wait $p0 && wait $p1 && "$exe" merge --shards 2 --out "$1" --quiet
}
declare -A wall
wall[one]=$(best "$tmp/one.csv" "$exe" predict "${in[@]}" --out "$tmp/one.csv")
wall[array2]=$(best "$tmp/arr.csv" bash -c "$(declare -p exe in); $(declare -f array2); array2 $tmp/arr.csv")
runs=(one array2)
if [ $have_mpi = 1 ]; then
  wall[mpi1]=$(best "$tmp/mpi1.csv" "${mpi[@]}" -np 1 "$exe" predict "${in[@]}" --out "$tmp/mpi1.csv")
  wall[mpi2]=$(best "$tmp/mpi2.csv" "${mpi[@]}" -np 2 "$exe" predict "${in[@]}" --out "$tmp/mpi2.csv")
  runs+=(mpi1 mpi2)
  cmp -s "$tmp/mpi1.csv" "$tmp/mpi2.csv" || { echo "mpirun -np 1 and 2 differ" >&2; exit 1; }
  cmp -s "$tmp/mpi1.csv" "$tmp/arr.csv" || { echo "mpirun and the array differ" >&2; exit 1; }
fi
# the unsharded output, sorted by source_id, equals the merged one (every column)
{ head -1 "$tmp/one.csv"; tail -n +2 "$tmp/one.csv" | sort -t, -k1,1n; } > "$tmp/one.sorted.csv"
cmp -s "$tmp/one.sorted.csv" "$tmp/arr.csv" || { echo "the unsharded and merged outputs differ" >&2; exit 1; }

# --- many input files: one shard per file --------------------------------------------------------------
"$exe" simulate --n-rrab $((stars * 2 / 3)) --n-rrc $((stars - stars * 2 / 3)) --seed 11 --format dr3-bulk \
  --files "$nfiles" --out "$tmp/files" --quiet
fin=(--epoch-photometry "$tmp/files/EpochPhotometry_*.csv.gz" --catalogue "$tmp/files/vari_rrlyrae.csv.gz"
  --threads 1 --quiet)
farray2() {  # --per-file as a 2-task job array: task k takes files k, k+2, ...; then the merge
  "$exe" predict "${fin[@]}" --per-file --out "$1" --shard 0/2 & local p0=$!
  "$exe" predict "${fin[@]}" --per-file --out "$1" --shard 1/2 & local p1=$!
  wait $p0 && wait $p1 && "$exe" merge --shards "$nfiles" --out "$1" --quiet
}
wall[fone]=$(best "$tmp/fone.csv" "$exe" predict "${fin[@]}" --out "$tmp/fone.csv")
wall[farray2]=$(best "$tmp/farr.csv" bash -c "$(declare -p exe fin nfiles); $(declare -f farray2); farray2 $tmp/farr.csv")
fruns=(fone farray2)
{ head -1 "$tmp/fone.csv"; tail -n +2 "$tmp/fone.csv" | sort -t, -k1,1n; } > "$tmp/fone.sorted.csv"
cmp -s "$tmp/fone.sorted.csv" "$tmp/farr.csv" || { echo "--per-file array and one process differ" >&2; exit 1; }
cmp -s "$tmp/fone.sorted.csv" "$tmp/one.sorted.csv" || { echo "$nfiles files and one file differ" >&2; exit 1; }
if [ $have_mpi = 1 ]; then
  wall[fmpi2]=$(best "$tmp/fmpi2.csv" "${mpi[@]}" -np 2 "$exe" predict "${fin[@]}" --per-file --out "$tmp/fmpi2.csv")
  wall[fhash2]=$(best "$tmp/fhash2.csv" "${mpi[@]}" -np 2 "$exe" predict "${fin[@]}" --out "$tmp/fhash2.csv")
  fruns+=(fhash2 fmpi2)
  cmp -s "$tmp/fone.sorted.csv" "$tmp/fmpi2.csv" || { echo "--per-file mpirun and one process differ" >&2; exit 1; }
  cmp -s "$tmp/fone.sorted.csv" "$tmp/fhash2.csv" || { echo "mpirun on $nfiles files differs" >&2; exit 1; }
fi
cores=$(nproc)
echo "ferrum-rrl predict, $stars simulated DR3-bulk stars, 20 MC-dropout passes, 1 thread per process,"
echo "best of $repeats, on this machine's $cores cores (shared with other work)"
declare -A label=([one]="one process (no MPI)" [array2]="job array --shard k/2 + merge"
  [mpi1]="mpirun -np 1" [mpi2]="mpirun -np 2" [fone]="one process, glob of the files"
  [farray2]="--per-file job array k/2 + merge" [fhash2]="mpirun -np 2 (hash shards)"
  [fmpi2]="mpirun -np 2 --per-file (dealt)")
declare -A procs=([one]=1 [array2]=2 [mpi1]=1 [mpi2]=2 [fone]=1 [farray2]=2 [fhash2]=2 [fmpi2]=2)
# prints a table of runs "$@" (speedup against run $1) and appends it to $json as the array "$key"
table() {
  local key=$1 base=$2 first=1 r s
  shift
  printf '%-34s %-8s %-10s %-10s\n' run processes "wall s" speedup
  json+=",\"$key\":["
  for r in "$@"; do
    s=$(/usr/bin/python3 -c "print(f'{${wall[$base]} / ${wall[$r]}:.2f}')")
    printf '%-34s %-8s %-10s %-10s\n' "${label[$r]}" "${procs[$r]}" "${wall[$r]}" "$s"
    [ $first = 1 ] || json+=","
    first=0
    json+="{\"run\":\"$r\",\"processes\":${procs[$r]},\"wall_s\":${wall[$r]},\"speedup\":$s}"
  done
  json+="]"
}
json="{\"benchmark\":\"scaling\",\"stars\":$stars,\"cores\":$cores,\"repeats\":$repeats"
table runs "${runs[@]}"
json+=",\"outputs_identical\":true,\"files\":$nfiles"
echo
echo "the same stars as $nfiles bulk files (--per-file: one shard per file, each shard reads its file alone)"
table per_file "${fruns[@]}"
if [ "${BENCH_SCALING_TRAIN:-1}" = 0 ]; then
  echo "$json}"
  exit 0
fi

# --- training across ranks ---------------------------------------------------------------------------
"$exe" simulate --n-rrab $((train_stars * 2 / 3)) --n-rrc $((train_stars - train_stars * 2 / 3)) --seed 12 \
  --out "$tmp/tset" --quiet
echo '{"architecture": "paper_gru", "max_epochs": 3, "batch_size": 256, "folds": 0}' > "$tmp/train.json"
tin=(train --epoch-photometry "$tmp/tset/epoch_photometry.csv" --catalogue "$tmp/tset/vari_rrlyrae.csv"
  --labels "$tmp/tset/labels.csv" --config "$tmp/train.json" --threads 1 --quiet)
# best of $repeats: wall s, the trainer's s (summed over the models), batches, communication ms per batch
train_best() {
  local out=$1
  shift
  /usr/bin/python3 -c 'import re, subprocess, sys, time
reps, cmd = int(sys.argv[1]), sys.argv[2:]
best = None
for _ in range(reps):
    t = time.perf_counter()
    p = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    # one rank prints "(no communication)", several their ms per batch
    rows = re.findall(r"model: \d+ epochs, (\d+) batches in ([0-9.]+) s on \d+ ranks?"
                      r"(?:, ([0-9.]+) ms communication and ([0-9.]+) ms waiting)?", p.stderr)
    batches = sum(int(r[0]) for r in rows)
    secs = sum(float(r[1]) for r in rows)
    comm = sum(int(r[0]) * float(r[2] or 0) for r in rows) / max(batches, 1)
    wait = sum(int(r[0]) * float(r[3] or 0) for r in rows) / max(batches, 1)
    if best is None or secs < best[1]:
        best = (wall, secs, batches, comm, wait)
print(f"{best[0]:.2f} {best[1]:.2f} {best[2]} {best[3]:.3f} {best[4]:.1f}")' "$repeats" "$@" --out "$out"
}
declare -A tw ts tb tc tx
truns=(one)
read -r tw[one] ts[one] tb[one] tc[one] tx[one] < <(train_best "$tmp/t_one.json" "$exe" "${tin[@]}")
if [ $have_mpi = 1 ]; then
  read -r tw[mpi1] ts[mpi1] tb[mpi1] tc[mpi1] tx[mpi1] < <(train_best "$tmp/t_mpi1.json" "${mpi[@]}" -np 1 "$exe" "${tin[@]}")
  read -r tw[mpi2] ts[mpi2] tb[mpi2] tc[mpi2] tx[mpi2] < <(train_best "$tmp/t_mpi2.json" "${mpi[@]}" -np 2 "$exe" "${tin[@]}")
  truns+=(mpi1 mpi2)
  cmp -s "$tmp/t_one.json" "$tmp/t_mpi2.json" || { echo "training on 2 ranks changed the model file" >&2; exit 1; }
  cmp -s "$tmp/t_one.json" "$tmp/t_mpi1.json" || { echo "mpirun -np 1 changed the model file" >&2; exit 1; }
fi
echo
echo "ferrum-rrl train, $train_stars simulated stars (RRab and RRc models), paper_gru, batch 256, 3 epochs,"
echo "1 thread per rank, best of $repeats; 'train s' is the trainer's own time (every rank also reads the set)"
printf '%-22s %-6s %-8s %-8s %-8s %-10s %-14s %-14s %-8s\n' run ranks "wall s" "train s" batches "batches/s" \
  "comm ms/batch" "wait ms/batch" speedup
json+=",\"train_stars\":$train_stars,\"training\":["
first=1
for r in "${truns[@]}"; do
  rate=$(/usr/bin/python3 -c "print(f'{${tb[$r]} / ${ts[$r]}:.2f}')")
  s=$(/usr/bin/python3 -c "print(f'{${ts[one]} / ${ts[$r]}:.2f}')")
  printf '%-22s %-6s %-8s %-8s %-8s %-10s %-14s %-14s %-8s\n' "${label[$r]}" "${procs[$r]}" "${tw[$r]}" \
    "${ts[$r]}" "${tb[$r]}" "$rate" "${tc[$r]}" "${tx[$r]}" "$s"
  [ $first = 1 ] || json+=","
  first=0
  json+="{\"run\":\"$r\",\"ranks\":${procs[$r]},\"wall_s\":${tw[$r]},\"train_s\":${ts[$r]},\"batches\":${tb[$r]},"
  json+="\"batches_per_s\":$rate,\"comm_ms_per_batch\":${tc[$r]},\"wait_ms_per_batch\":${tx[$r]},\"speedup\":$s}"
done
echo "$json],\"models_identical\":true}"
