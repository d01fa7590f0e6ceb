#!/usr/bin/env bash
# One-call proof of the cuDNN backend on a GPU machine (the `device` tool): builds the GPU tests and
# bench_gpu with nvcc's toolkit, cuDNN and cuBLAS, runs them, and copies the logs to $OUT.
#
#   Here (a machine with the header-only dependencies), once:   tools/gpu-proof.sh --pack
#     copies Eigen, xtensor, xtl, nlohmann/json and Catch2 headers into .gpu-deps/ (git-ignored locally
#     through .git/info/exclude), because the device image has CUDA and PyTorch but not these.
#   On the device:   run(command="bash tools/gpu-proof.sh", carry=[".gpu-deps"])
#
# Environment: CUDA_HOME (default /usr/local/cuda), CUDNN_HOME (default: cudnn.h beside CUDA, else the
# nvidia-cudnn wheel of python3), FERRUM_PYTHON (python with torch for the peer; default python3),
# OUT (where logs go; default ./gpu-proof-out).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "${1:-}" = "--pack" ]; then
    rm -rf .gpu-deps && mkdir -p .gpu-deps/include
    for d in eigen3 xtensor xtl nlohmann catch2 xsimd; do
        [ -d /usr/include/$d ] && cp -r /usr/include/$d .gpu-deps/include/
    done
    EXCLUDE=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$EXCLUDE")"
    for d in /.gpu-deps/ /.gpu-build/ /gpu-proof-out/; do
        grep -qx "$d" "$EXCLUDE" 2>/dev/null || echo "$d" >> "$EXCLUDE"
    done
    du -sh .gpu-deps
    exit 0
fi

OUT=${OUT:-$ROOT/gpu-proof-out}
mkdir -p "$OUT"
LOG=$OUT/gpu-proof.log
exec > >(tee "$LOG") 2>&1

CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
PY=${FERRUM_PYTHON:-python3}
if [ -z "${CUDNN_HOME:-}" ]; then
    if [ -f "$CUDA_HOME/include/cudnn.h" ]; then
        CUDNN_HOME=$CUDA_HOME
    else
        CUDNN_HOME=$($PY -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
                     $PY -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
    fi
fi
CUDNN_LIB=$CUDNN_HOME/lib64
[ -d "$CUDNN_LIB" ] || CUDNN_LIB=$CUDNN_HOME/lib
# pip wheels ship libcudnn.so.9 without the unversioned link name
rm -f .gpu-build/test_* .gpu-build/bench_gpu  # never report a stale binary
mkdir -p "$ROOT/.gpu-build/lib"
for l in cudnn cublas cublasLt cudart; do
    for dir in "$CUDNN_LIB" "$CUDA_HOME/lib64" "$CUDA_HOME/targets/x86_64-linux/lib"; do
        f=$(ls "$dir"/lib$l.so* 2>/dev/null | head -1)
        if [ -n "$f" ]; then ln -sf "$f" "$ROOT/.gpu-build/lib/lib$l.so"; break; fi
    done
done
# ferrum's programs find the toolkit's cuDNN through LD_LIBRARY_PATH; the PyTorch peer must not inherit it (it
# would load this cuDNN instead of its own), so it is started with the environment this script was given
if [ -n "${LD_LIBRARY_PATH+x}" ]; then PEER_ENV="env LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; else PEER_ENV="env -u LD_LIBRARY_PATH"; fi
export LD_LIBRARY_PATH=$CUDNN_LIB:$CUDA_HOME/lib64:${LD_LIBRARY_PATH:-}

echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
echo "CUDA_HOME=$CUDA_HOME CUDNN_HOME=$CUDNN_HOME python=$PY"
"$CUDA_HOME/bin/nvcc" --version | tail -2
grep -h "define CUDNN_MAJOR\|define CUDNN_MINOR\|define CUDNN_PATCHLEVEL" "$CUDNN_HOME"/include/cudnn_version*.h | head -3

DEPS=$ROOT/.gpu-deps/include
[ -d "$DEPS" ] || DEPS=/usr/include
CXX=${CXX:-g++}
FLAGS=(-std=c++17 -O2 -Wall -Wextra -Wpedantic -DFERRUM_USE_CUDNN -I"$ROOT/include" -I"$ROOT/tests/support"
       -isystem "$DEPS" -isystem "$DEPS/eigen3" -isystem "$CUDA_HOME/include" -isystem "$CUDNN_HOME/include"
       -DFERRUM_TEST_DATA_DIR="\"$ROOT/tests/data\"" -DFERRUM_SHARED_DATA_DIR="\"$ROOT/../shared/data\""
       -DFERRUM_BENCH_DIR="\"$ROOT/benchmarks\"")
LIBS=(-L"$ROOT/.gpu-build/lib" -L"$CUDNN_LIB" -L"$CUDA_HOME/lib64" -lcudnn -lcublas -lcudart -lpthread)

status=0
echo "== build"
$CXX "${FLAGS[@]}" -c tests/support/gpu_main.cpp -o .gpu-build/gpu_main.o || status=1
pids=()
for t in tests/gpu/test_*.cpp; do
    name=$(basename "$t" .cpp)
    if [ "$(nproc)" -ge 8 ]; then  # the device has 16 cores; a shared CI box builds one at a time
        $CXX "${FLAGS[@]}" "$t" .gpu-build/gpu_main.o "${LIBS[@]}" -o ".gpu-build/$name" &
        pids+=($!)
    else
        $CXX "${FLAGS[@]}" "$t" .gpu-build/gpu_main.o "${LIBS[@]}" -o ".gpu-build/$name"
    fi
done
# wait for the compilers only: a bare `wait` would also wait for the tee of the log, forever
for p in ${pids[@]+"${pids[@]}"}; do wait "$p"; done
$CXX "${FLAGS[@]}" -O3 -march=native benchmarks/bench_gpu.cpp "${LIBS[@]}" -o .gpu-build/bench_gpu || status=1

echo "== tests"
for t in tests/gpu/test_*.cpp; do
    name=$(basename "$t" .cpp)
    if [ ! -x ".gpu-build/$name" ]; then echo "$name: BUILD FAILED"; status=1; continue; fi
    ".gpu-build/$name" --durations yes > "$OUT/$name.log" 2>&1
    rc=$?
    tail -25 "$OUT/$name.log"
    echo "$name: exit $rc"
    [ $rc -eq 0 ] || status=1
done

echo "== benchmark"
if [ -x .gpu-build/bench_gpu ]; then
    # bench_gpu exits 1 when the peer gives no result: a missing comparison fails the proof
    FERRUM_PYTHON="$PEER_ENV $PY" .gpu-build/bench_gpu > "$OUT/bench_gpu.log" 2>&1 || status=1
    cat "$OUT/bench_gpu.log"
fi
echo "== gpu-proof exit $status"
exit $status
