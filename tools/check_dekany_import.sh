#!/usr/bin/env bash
# Reproduces Dekany & Grebel (2022)'s published BiLSTM predictions (idekany/rrl_feh_nn, MIT) in ferrum: converts
# their 10-fold Keras ensembles with tools/convert_keras.py, rebuilds their inputs as their code does, runs the
# converted files in ferrum (load_model with verification, float32 and float64) and compares with what they
# published: Ks band, Table 5 (the inner-bulge target stars, complete inputs); G band, the predict_train /
# predict_val files of the development stars, whose periods are not in the repository (see
# tools/check_dekany_import.py for how they are recovered and what is then a fair test). A measurement script,
# not a CI test: it needs a clone of their repository; both bands took 24 minutes (14 CPU minutes; Ks about 4, the
# G period recovery the rest) on the loaded 2-core machine, plus the compilation of tools/dekany_predict.cpp.
#
# usage: tools/check_dekany_import.sh [MIRROR_GIT_DIR] [WORK_DIR]
#   MIRROR_GIT_DIR: a (bare) git clone of idekany/rrl_feh_nn (default /work/.mirror/idekany+rrl_feh_nn/repo,
#                   or $DEKANY_REPO); the script skips (exit 0) when it is absent.
#   WORK_DIR:       where their files are unpacked and the results written (default: a temporary folder).
# BANDS="k g" (default) picks the checks; DEKANY_PREDICT=path reuses a build of tools/dekany_predict.cpp.
# Their files are never copied into this project.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
repo="${1:-${DEKANY_REPO:-/work/.mirror/idekany+rrl_feh_nn/repo}}"
if ! git --git-dir="$repo" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  echo "check_dekany_import: skipped: no clone of idekany/rrl_feh_nn at '$repo'"
  exit 0
fi
work="${2:-$(mktemp -d /tmp/dekany_import.XXXXXX)}"
mkdir -p "$work"
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3   # the system python has numpy, h5py and torch
G() { git --git-dir="$repo" "$@"; }
bands="${BANDS:-k g}"   # BANDS=k: only the Ks check (about 4 minutes); the G check recovers periods (about 20)
echo "check_dekany_import: $(G rev-parse --short HEAD) of $repo -> $work (bands: $bands)" >&2

# ferrum: a small program over the public headers (load_model verifies the file's PyTorch vectors first)
# (DEKANY_PREDICT=path reuses a build of it)
predict="${DEKANY_PREDICT:-$work/dekany_predict}"
if [ -z "${DEKANY_PREDICT:-}" ]; then
  "${CXX:-g++}" -std=c++17 -O2 -DNDEBUG -I"$root/include" -isystem /usr/include/eigen3 "$here/dekany_predict.cpp" \
    -o "$predict" -pthread
fi

status=0
for band in $bands; do
  d="$work/$band"
  mkdir -p "$d"
  G show "HEAD:results_$band/best_model_$band/model.json" > "$d/model.json"
  for k in 0 1 2 3 4 5 6 7 8 9; do G show "HEAD:results_$band/best_model_$band/weights_$k.h5" > "$d/weights_$k.h5"; done
  if [ "$band" = g ]; then
    while IFS= read -r path; do
      case "$path" in
        */predict_train_*) G show "HEAD:$path" > "$d/predict_train_g.dat" ;;
        */predict_val_*) G show "HEAD:$path" > "$d/predict_val_g.dat" ;;
      esac
    done < <(G ls-tree -r --name-only HEAD results_g/best_model_g/)
    G show HEAD:lc_dev_g.tar.gz | tar xzf - -C "$d"
  else
    G show HEAD:table5.dat > "$d/table5.dat"
    G show HEAD:inner_bulge_new_rrab.dat > "$d/inner_bulge_new_rrab.dat"
    G show HEAD:lc_target_k.tar.gz | tar xzf - -C "$d"
  fi
  # 1. the ensemble as one ferrum file, the 10 members' outputs side by side (PyTorch test vectors inside)
  "$py" "$here/convert_keras.py" --members "$d/model.json" "$d"/weights_{0,1,2,3,4,5,6,7,8,9}.h5 "$d/dekany_$band.json"
  # 2. their inputs, built as their code builds them
  "$py" "$here/check_dekany_import.py" "prepare-$band" "$d"
  # 3. ferrum, float32 (as Keras ran it) and float64
  "$predict" "$d/dekany_$band.json" "$d/inputs.txt" float > "$d/ferrum_members.txt"
  "$predict" "$d/dekany_$band.json" "$d/inputs.txt" double > "$d/ferrum_members_f64.txt"
  # 4. the numbers
  "$py" "$here/check_dekany_import.py" "compare-$band" "$d" || status=1
done
exit $status
