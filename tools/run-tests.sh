#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: install what is missing, build, run ctest.
# Set FERRUM_TEST_SLOW=ON to include the tests tagged [slow]; FERRUM_REFERENCE_DIR to check against
# other oracle vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
# Benchmarks are not tests: they are built on demand (cmake --build build --target bench_<topic>).
cmake -S . -B build-tests -DCMAKE_BUILD_TYPE=Release -DFERRUM_BUILD_BENCHMARKS=OFF \
  -DFERRUM_TEST_SLOW="${FERRUM_TEST_SLOW:-OFF}" >/dev/null
cmake --build build-tests -j"$jobs"
cd build-tests
ctest --output-on-failure -j"$jobs"
