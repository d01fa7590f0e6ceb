#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build, and run the RR Lyrae [Fe/H]
# example end to end (simulate -> train -> evaluate -> predict) on its embedded default data.
# Usage: tools/quickstart.sh [example arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFERRUM_BUILD_TESTS=OFF -DFERRUM_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target rrlyrae_feh
./build/examples/rrlyrae_feh "$@"
