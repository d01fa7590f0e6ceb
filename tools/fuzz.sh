#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, -DFERRUM_FUZZ=ON, in build-fuzz) and runs each one
# on its seed corpus (tests/fuzz/corpus/<target>/) under ASan and UBSan.
#   tools/fuzz.sh                 about one minute for all targets together (what CI runs)
#   tools/fuzz.sh 600             10 minutes per target
#   tools/fuzz.sh 60 fuzz_csv_reader fuzz_xp_spectra    only these targets
# A finding (crash, sanitizer report, an exception that is not a ferrum::error, a 10 s hang, 2 GB of
# memory) fails the run; its input is saved as build-fuzz/findings/<target>-crash-… and replays with
# `build-fuzz/tests/fuzz/<target> <that file>`. New inputs go to build-fuzz/corpus/, never to the seeds.
# Without clang or libFuzzer (libclang-rt-14-dev) the run is skipped with a message, exit status 0.
# FERRUM_BUILD_COMMAND replaces "cmake --build" (e.g. a wrapper that serialises builds).
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${FERRUM_FUZZ_CXX:-clang++}
targets=()
for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
build_targets=(ferrum_fuzz)  # all of them, built in parallel (make runs several --target one by one)
if (($# > 1)); then
  targets=("${@:2}")
  build_targets=("${targets[@]}")
fi
seconds=${1:-$(((60 + ${#targets[@]} - 1) / ${#targets[@]}))}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "ferrum fuzz: SKIPPED: $cxx not found (tools/install-deps.sh installs clang and libclang-rt-14-dev)"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  echo "ferrum fuzz: SKIPPED: $cxx cannot link libFuzzer (install libclang-rt-14-dev):"
  head -3 "$probe/err"
  exit 0
fi

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRUM_FUZZ=ON \
  -DFERRUM_BUILD_TESTS=OFF -DFERRUM_BUILD_TOOLS=OFF -DFERRUM_BUILD_EXAMPLES=OFF -DFERRUM_BUILD_BENCHMARKS=OFF \
  -DFERRUM_ENABLE_CUDNN=OFF -DFERRUM_ENABLE_XGBOOST=OFF >/dev/null
if [[ -n "${FERRUM_BUILD_COMMAND:-}" ]]; then
  $FERRUM_BUILD_COMMAND build-fuzz --target "${build_targets[@]}"
else
  cmake --build build-fuzz -j"$(nproc)" --target "${build_targets[@]}"
fi

mkdir -p build-fuzz/findings build-fuzz/logs
failed=()
printf '%-30s %8s %10s  %s\n' target seconds runs result
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log="build-fuzz/logs/$t.log"
  rc=0
  "build-fuzz/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if ((rc == 0)); then
    printf '%-30s %8s %10s  %s\n' "$t" "$seconds" "${runs:-?}" ok
  else
    printf '%-30s %8s %10s  %s\n' "$t" "$seconds" "${runs:-?}" "FINDING (exit $rc), log: $log"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "---- $t: the end of build-fuzz/logs/$t.log"
    tail -40 "build-fuzz/logs/$t.log"
  done
  echo "ferrum fuzz: ${#failed[@]} target(s) with findings: ${failed[*]}" >&2
  exit 1
fi
echo "ferrum fuzz: ${#targets[@]} targets, ${seconds} s each, no finding"
