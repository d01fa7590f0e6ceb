#!/usr/bin/env bash
# The whole test suite under AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer: builds
# the tests and tools in build-asan and runs ctest. Any sanitizer report fails its test.
#   tools/sanitize.sh                       with clang++
#   FERRUM_SANITIZE_CXX=g++ tools/sanitize.sh
#   tools/sanitize.sh -R 'core|readers'     extra arguments go to ctest
# Not part of CI (tools/run-tests.sh): the instrumented build and run take longer than CI's 30 minutes
# leave. FERRUM_BUILD_COMMAND replaces "cmake --build" (e.g. a wrapper that serialises builds).
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${FERRUM_SANITIZE_CXX:-clang++}
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# -O1 with line tables and assertions on (Eigen's index checks): quicker to build than -O2 -g, and a
# failed assertion is a finding too.
cmake -S . -B build-asan -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DFERRUM_BUILD_BENCHMARKS=OFF \
  -DFERRUM_BUILD_EXAMPLES=OFF -DFERRUM_ENABLE_CUDNN=OFF -DFERRUM_TEST_SLOW="${FERRUM_TEST_SLOW:-OFF}" >/dev/null
if [[ -n "${FERRUM_BUILD_COMMAND:-}" ]]; then
  $FERRUM_BUILD_COMMAND build-asan
else
  cmake --build build-asan -j"$(nproc)"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan
ctest --output-on-failure -j"$(nproc)" "$@"
