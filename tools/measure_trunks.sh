#!/usr/bin/env bash
# The measurement of docs/rrlyrae.md, "Other architectures": every sequence trunk of `ferrum-rrl train
# --architecture` on the SAME stars and the SAME folds (stratified K-fold CV, one seed: the folds depend on
# the seed and the labels only), scored out-of-fold against the labels the models train on (`feh`,
# catalogue-style) and against the simulator's truth (`feh_true`), with the 1 and 2 sigma coverage of the
# calibrated sigma; the training time per epoch (the final model, all stars, 1 thread) and the inference
# throughput of `ferrum-rrl predict` (1 thread, the same MC-dropout passes, preprocessing included).
#
#   tools/measure_trunks.sh [ferrum-rrl] [WORKDIR]
#
# Environment: N_RRAB (200), N_RRC (100), FOLDS (3), EPOCHS (5), BATCH (32), MC (5: MC-dropout passes of the
# sigma, in CV and in predict), JOBS (2: trunks trained at once, each on 1 thread), TRUNKS (all ten, the
# slowest first). Every model holds out 20 % of its training stars for early stopping and the sigma
# calibration (which needs 10 stars of each type there). Defaults are sized for the shared 2-core machine
# (about 15 min with 2 jobs); the ranking at this size need not hold at the paper's.
# Prints one Markdown table (and WORKDIR/trunks.json); needs /usr/bin/python3 with numpy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$root/build/tools/ferrum-rrl}
W=${2:-$(mktemp -d)}
PY=${PYTHON:-/usr/bin/python3}
N_RRAB=${N_RRAB:-200} N_RRC=${N_RRC:-100} FOLDS=${FOLDS:-3} EPOCHS=${EPOCHS:-5} BATCH=${BATCH:-32} JOBS=${JOBS:-2}
MC=${MC:-5}
TRUNKS=${TRUNKS:-"resnet inception_time fcn transformer bilstm lstm bigru gru_fourier paper_gru fourier_linear"}
[[ -x $B ]] || { echo "measure_trunks.sh: no $B (build the ferrum-rrl target)" >&2; exit 1; }
mkdir -p "$W"
B=$(realpath "$B"); W=$(realpath "$W")
cd "$W"
[ -f set/labels.csv ] || "$B" simulate --n-rrab "$N_RRAB" --n-rrc "$N_RRC" --seed 16 --out set --quiet
n_stars=$(($(wc -l < set/labels.csv) - 1))
one() {  # one ARCH: CV + final model (train.log keeps its timing), then timed inference
  local a=$1
  [ -f "predict_$a.time" ] && return 0  # measured already (a rerun on the same WORKDIR only rebuilds the table)
  # one recipe for all: the default training (Adam 0.005, reduce-on-plateau, no density weights) with small
  # batches so that a few epochs of a few hundred stars take enough steps
  echo "{\"architecture\":\"$a\",\"batch_size\":$BATCH,\"calibration_mc_samples\":$MC,\"validation_fraction\":0.2}" > "cfg_$a.json"
  nice -n 10 "$B" train --epoch-photometry set/epoch_photometry.csv --catalogue set/vari_rrlyrae.csv \
       --labels set/labels.csv --unified --folds "$FOLDS" --max-epochs "$EPOCHS" --seed 1 --config "cfg_$a.json" \
       --threads 1 --out "model_$a.json" > /dev/null 2> "train_$a.log"
  local t0 t1
  t0=$(date +%s.%N)
  nice -n 10 "$B" predict --model "model_$a.json" --epoch-photometry set/epoch_photometry.csv \
       --catalogue set/vari_rrlyrae.csv --mc-samples "$MC" --threads 1 --quiet --out "pred_$a.csv"
  t1=$(date +%s.%N)
  echo "$t0 $t1" > "predict_$a.time"
}
running=0
for a in $TRUNKS; do
  one "$a" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
"$PY" - "$n_stars" "$FOLDS" "$EPOCHS" "$MC" $TRUNKS <<'EOF'
import csv, json, re, sys
import numpy as np
n_stars, folds, epochs, mc, trunks = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
lab = {r["source_id"]: r for r in csv.DictReader(open("set/labels.csv"))}
rows, out = [], {}
for a in trunks:
    oof = list(csv.DictReader(open(f"model_{a}.json.oof.csv")))
    p = np.array([float(r["feh"]) for r in oof]); s = np.array([float(r["feh_sigma"]) for r in oof])
    res = {}
    for col in ("feh", "feh_true"):
        y = np.array([float(lab[r["source_id"]][col]) for r in oof])
        d = p - y
        res[col] = {"rmse": float(np.sqrt(np.mean(d ** 2))), "mae": float(np.mean(np.abs(d))),
                    "bias": float(np.mean(d)), "pearson_r": float(np.corrcoef(p, y)[0, 1]),
                    "sd_prediction": float(p.std()), "sd_reference": float(y.std()),
                    "r2": float(1 - np.sum(d ** 2) / np.sum((y - y.mean()) ** 2)),
                    "cover1": float(np.mean(np.abs(d) <= s)), "cover2": float(np.mean(np.abs(d) <= 2 * s))}
    log = open(f"train_{a}.log").read()
    m = re.search(r"final \S+ model: (\d+) epochs, \d+ batches in ([0-9.]+) s", log)
    per_epoch = float(m.group(2)) / int(m.group(1)) if m else float("nan")
    t0, t1 = map(float, open(f"predict_{a}.time").read().split())
    res.update({"n_oof": len(oof), "seconds_per_epoch": per_epoch, "predict_stars_per_s": n_stars / (t1 - t0)})
    out[a] = res
    L, T = res["feh"], res["feh_true"]
    rows.append(f"| {a} | {L['rmse']:.3f} | {L['cover1']:.2f} / {L['cover2']:.2f} | "
                f"{T['rmse']:.3f} | {T['mae']:.3f} | {T['pearson_r']:.2f} | {T['cover1']:.2f} / {T['cover2']:.2f} | "
                f"{L['sd_prediction']:.2f} | "
                f"{'—' if per_epoch != per_epoch else f'{per_epoch:.1f}'} | {res['predict_stars_per_s']:.0f} |")
json.dump(out, open("trunks.json", "w"), indent=1)
print(f"{n_stars} stars, {folds}-fold CV out-of-fold, {epochs} epochs, unified RRab+RRc model, {mc} MC-dropout "
      "passes, 1 thread each")
first = out[trunks[0]]
print(f"standard deviation of the labels {first['feh']['sd_reference']:.3f}, of the truth "
      f"{first['feh_true']['sd_reference']:.3f} dex")
print("| trunk | RMSE vs labels | 1σ / 2σ coverage (labels) | RMSE vs truth | MAE vs truth | r with truth | "
      "1σ / 2σ coverage (truth) | sd of predictions | s per epoch | predict stars/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
EOF
echo "measure_trunks.sh: results in $W" >&2
