#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: install what is missing, then build and run ctest with
# g++ (build-tests) and with clang (build-tests-clang), then fuzz every reader for about a minute
# (tools/fuzz.sh). Set FERRUM_TEST_SLOW=ON to include the tests tagged [slow]; FERRUM_REFERENCE_DIR to
# check against other oracle vectors; FERRUM_BUILD_COMMAND to replace "cmake --build".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
build() {
  if [[ -n "${FERRUM_BUILD_COMMAND:-}" ]]; then
    $FERRUM_BUILD_COMMAND "$1"
  else
    cmake --build "$1" -j"$jobs"
  fi
}
# One pass per compiler, with the same warnings (FERRUM_WARNINGS). Benchmarks are not tests: they are
# built on demand (cmake --build build --target bench_<topic>).
suite() {
  local dir=$1 cxx=$2 exclude=$3 start=$SECONDS
  shift 3
  echo "ferrum: the test suite with $cxx in $dir"
  cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release -DFERRUM_BUILD_BENCHMARKS=OFF \
    -DFERRUM_TEST_SLOW="${FERRUM_TEST_SLOW:-OFF}" "$@" >/dev/null
  build "$dir"
  echo "ferrum: $dir built in $((SECONDS - start)) s"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${exclude:+-E "$exclude"})
  echo "ferrum: $dir built and tested in $((SECONDS - start)) s"
}
# The g++ pass links ferrum's tests, tools and examples to the precompiled library (-DFERRUM_PRECOMPILED=ON:
# the heaviest templates compiled once, not in each test executable), and its package test builds a consumer
# of the installed package in both modes. The clang pass stays header-only -- what a user gets by default --
# and compiles every benchmark (-fsyntax-only, the benchmarks_compile test), which CI builds nowhere else.
suite build-tests g++ "" -DFERRUM_PRECOMPILED=ON -DFERRUM_CHECK_BENCHMARKS=OFF
if command -v clang++ >/dev/null 2>&1; then
  # The clang pass proves portability and runs every test again. It builds at -O1 (code generation is most of
  # the build's time: 199 s to build, 87 s to test on 2 cores) and without the examples, which g++ builds:
  # CI's whole run must stay well under 30 minutes on 2 cores (docs/reliability.md). For the same reason it
  # builds the consumer project from the installed package and the docs' snippets with clang, but leaves the
  # same consumer through add_subdirectory (the same code, compiled a second time) to the g++ pass.
  suite build-tests-clang clang++ "package_add_subdirectory" -DFERRUM_BUILD_EXAMPLES=OFF \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DFERRUM_PRECOMPILED=OFF -DFERRUM_CHECK_BENCHMARKS=ON
else
  echo "ferrum: SKIPPED the clang pass: clang++ not found (tools/install-deps.sh installs it)"
fi
bash tools/fuzz.sh
