#!/usr/bin/env bash
# What including ferrum costs a user's translation unit (issue #15, item 2): each public header compiled
# alone (`#include <ferrum/X.hpp>` + an empty main, -c), CPU seconds (user + sys) and peak memory of the
# compiler, side by side with the peer -- Eigen + nlohmann/json + xtensor alone, the dependencies every
# ferrum header pulls in -- in the same run. The module goal: at most 2 s over that peer; ferrum.hpp under
# 6 s and 600 MB. Two more rows compile a user's program that calls the heavy code,
# examples/train_rrlyrae_model.cpp, header-only and as with the precompiled library (ferrum::ferrum_compiled:
# -DFERRUM_EXTERN_TEMPLATES, the heaviest templates declared extern). Prints a table and, as the last line of
# stdout, one JSON object.
# usage: benchmarks/bench_compile.sh [CXX] [OPT] [REPEATS]     (defaults: c++, -O0, 1)
# FERRUM_COMPILE_ROWS="peer core ferrum" measures only those rows (the peer is always measured).
# FERRUM_COMPILE_TREE=DIR measures the headers of another checkout (DIR/include), e.g. a worktree of the commit
# before a change, so before and after run back to back with this script's own rows.
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${1:-c++}
opt=${2:--O0}
repeats=${3:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


# one TU per row: its name and the includes it compiles
rows=(peer core spline stats lightcurve photometry spectra sim nn train relations models ferrum use use_compiled)
if [ -n "${FERRUM_COMPILE_ROWS:-}" ]; then
  read -r -a rows <<< "$FERRUM_COMPILE_ROWS"
  [ "${rows[0]}" = peer ] || rows=(peer "${rows[@]}")
fi
tree=${FERRUM_COMPILE_TREE:-.}
source_of() {
  if [ "$1" = use ] || [ "$1" = use_compiled ]; then
    cat "$tree/examples/train_rrlyrae_model.cpp"
    return
  elif [ "$1" = peer ]; then
    printf '#include <Eigen/Dense>\n#include <nlohmann/json.hpp>\n#include <xtensor/xtensor.hpp>\n#include <xtensor/xarray.hpp>\n'
  else
    printf '#include <ferrum/%s.hpp>\n' "$1"
  fi
  printf 'int main() { return 0; }\n'
}

flags=(-std=c++17 "$opt" -DNDEBUG -I "$tree/include" -isystem /usr/include/eigen3 -c)

# the cheapest of $repeats compiles: "cpu_seconds peak_mb"
measure() {
  local name=$1 best_cpu="" best_mb="" extra=()
  source_of "$name" > "$tmp/$name.cpp"
  [ "$name" = use_compiled ] && extra=(-DFERRUM_EXTERN_TEMPLATES)
  for _ in $(seq "$repeats"); do
    /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$cxx" "${flags[@]}" "${extra[@]}" "$tmp/$name.cpp" -o "$tmp/$name.o"
    read -r u s kb < "$tmp/time"
    local cpu mb
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    mb=$(awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }')
    if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
      best_cpu=$cpu
      best_mb=$mb
    fi
  done
  echo "$best_cpu $best_mb"
}

declare -A cpu mb
for r in "${rows[@]}"; do
  read -r c m < <(measure "$r")
  cpu[$r]=$c
  mb[$r]=$m
done

version=$("$cxx" --version | head -1)
echo "Compile cost of one translation unit per header ($version, $opt, -c; best of $repeats)"
printf '%-22s %10s %10s %14s %s\n' header "CPU s" "peak MB" "over peer (s)" goal
json="{\"benchmark\":\"compile\",\"compiler\":\"$version\",\"opt\":\"$opt\",\"rows\":["
first=1
for r in "${rows[@]}"; do
  over=$(awk -v a="${cpu[$r]}" -v b="${cpu[peer]}" 'BEGIN { printf "%.2f", a - b }')
  if [ "$r" = peer ]; then
    label="Eigen+json+xtensor"
    goal="(the peer)"
  elif [ "$r" = use ] || [ "$r" = use_compiled ]; then
    label="example $r"
    goal=$([ "$r" = use ] && echo "(header-only)" || echo "(with ferrum::ferrum_compiled)")
  elif [ "$r" = ferrum ]; then
    label="ferrum/ferrum.hpp"
    goal=$(awk -v c="${cpu[$r]}" -v m="${mb[$r]}" 'BEGIN { print (c < 6 && m < 600) ? "met (< 6 s, < 600 MB)" : "missed (< 6 s, < 600 MB)" }')
  else
    label="ferrum/$r.hpp"
    goal=$(awk -v o="$over" 'BEGIN { print (o <= 2) ? "met (<= 2 s over peer)" : "missed (<= 2 s over peer)" }')
  fi
  printf '%-22s %10s %10s %14s %s\n' "$label" "${cpu[$r]}" "${mb[$r]}" "$over" "$goal"
  [ $first = 1 ] || json+=","
  first=0
  json+="{\"header\":\"$r\",\"cpu_s\":${cpu[$r]},\"peak_mb\":${mb[$r]},\"over_peer_s\":$over}"
done
json+="]"
[ -n "${cpu[ferrum]:-}" ] && json+=",\"ferrum_over_peer_ratio\":$(awk -v a="${cpu[ferrum]}" -v b="${cpu[peer]}" 'BEGIN { printf "%.2f", a / b }')"
json+="}"
echo "$json"
