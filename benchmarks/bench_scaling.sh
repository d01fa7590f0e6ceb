#!/usr/bin/env bash
# Strong scaling of `ferrum-rrl predict` over ranks: the same simulated Gaia DR3 bulk set (gzipped ECSV,
# dr3-bulk layout) predicted by one process, by `mpirun -np 1` and `-np 2` (rank r takes shard r, rank 0
# merges), and as a 2-task job array (`--shard 0/2` and `--shard 1/2` side by side, then `merge`), one thread
# per process. Each shard reads the whole input and keeps its stars (hash of source_id), so reading is not
# divided by the ranks; the fold, preprocessing and MC-dropout prediction are. The merged outputs of every
# run are checked identical (but for feh_sigma, whose MC-dropout part depends on which stars share a batch:
# docs/scaling.md). Prints a table and, as the last line, one JSON object.
# usage: benchmarks/bench_scaling.sh [BUILD_DIR] [STARS] [REPEATS]
set -euo pipefail
build=${1:-build}
stars=${2:-2000}
repeats=${3:-2}
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
nosigma() { cut -d, -f1-3,5- "$1"; }  # every column but feh_sigma
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
  cmp -s <(nosigma "$tmp/mpi1.csv") <(nosigma "$tmp/mpi2.csv") || { echo "mpirun -np 1 and 2 differ" >&2; exit 1; }
  cmp -s <(nosigma "$tmp/mpi1.csv") <(nosigma "$tmp/arr.csv") || { echo "mpirun and the array differ" >&2; exit 1; }
fi
# the unsharded output, sorted by source_id, equals the merged one
{ head -1 "$tmp/one.csv"; tail -n +2 "$tmp/one.csv" | sort -t, -k1,1n; } > "$tmp/one.sorted.csv"
cmp -s <(nosigma "$tmp/one.sorted.csv") <(nosigma "$tmp/arr.csv") ||
  { echo "the unsharded and merged outputs differ" >&2; exit 1; }
cores=$(nproc)
echo "ferrum-rrl predict, $stars simulated DR3-bulk stars, 20 MC-dropout passes, 1 thread per process,"
echo "best of $repeats, on this machine's $cores cores (shared with other work)"
printf '%-34s %-8s %-10s %-10s\n' run processes "wall s" speedup
declare -A label=([one]="one process (no MPI)" [array2]="job array --shard k/2 + merge"
  [mpi1]="mpirun -np 1" [mpi2]="mpirun -np 2")
declare -A procs=([one]=1 [array2]=2 [mpi1]=1 [mpi2]=2)
json="{\"benchmark\":\"scaling\",\"stars\":$stars,\"cores\":$cores,\"repeats\":$repeats,\"runs\":["
first=1
for r in "${runs[@]}"; do
  s=$(/usr/bin/python3 -c "print(f'{${wall[one]} / ${wall[$r]}:.2f}')")
  printf '%-34s %-8s %-10s %-10s\n' "${label[$r]}" "${procs[$r]}" "${wall[$r]}" "$s"
  [ $first = 1 ] || json+=","
  first=0
  json+="{\"run\":\"$r\",\"processes\":${procs[$r]},\"wall_s\":${wall[$r]},\"speedup\":$s}"
done
echo "$json],\"outputs_identical_but_feh_sigma\":true}"
