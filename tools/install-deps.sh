#!/usr/bin/env bash
# Installs the Debian packages ferrum needs that are missing on this machine (apt-get; as root, or
# through sudo). Usage: tools/install-deps.sh [--bench]   (--bench adds the SciPy/PyTorch peers)
set -euo pipefail
pkgs=(g++ clang libclang-rt-14-dev cmake make zlib1g-dev libdeflate-dev libeigen3-dev libxtensor-dev xtl-dev libxsimd-dev nlohmann-json3-dev catch2 libxgboost-dev
      libopenmpi-dev openmpi-bin)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-numpy python3-scipy python3-sklearn python3-torch)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ferrum: installing missing Debian packages: ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
