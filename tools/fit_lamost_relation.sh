#!/usr/bin/env bash
# Rebuilds the spectroscopic-scale (LAMOST) [Fe/H] relation of Gaia G-band RRab recorded in
# include/ferrum/relations/spectroscopic.hpp, with the ferrum-relations CLI, from the shared table
# liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv (Gaia DR3 vari_rrlyrae parameters of 2,184 RRab with
# LAMOST low-resolution [Fe/H], Liu et al. 2020). Prints: the rows kept, the phase-convention check, the
# feature ranking (F-test, forward and backward selection under CV), the cross-validation table and the
# fit of the chosen relation with its coefficients at full precision.
#
#   tools/fit_lamost_relation.sh [TABLE] [FERRUM_RELATIONS]
#
# Defaults: ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv and build/tools/ferrum-relations
# (relative to the repository root; build it with: cmake --build build --target ferrum-relations). The
# gradient-boosting row needs a ferrum-relations linked with ferrum::xgboost; without it that row is left out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
table=${1:-$root/../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv}
fr=${2:-$root/build/tools/ferrum-relations}
[[ -r $table ]] || { echo "fit_lamost_relation.sh: cannot read $table" >&2; exit 1; }
[[ -x $fr ]] || { echo "fit_lamost_relation.sh: no $fr (build the ferrum-relations target)" >&2; exit 1; }
export FERRUM_QUIET=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The chosen relation (see the cross-validation table below and docs/relations.md).
chosen=pf,phi31_g,A1,A2
chosen_err=pf_error,phi31_g_error,A1_error,A2_error
# CV settings, shared by every row of the table.
cv=(--folds 5 --repeats 10 --seed 7)

# 1. Rows with every parameter present and finite; derived columns: lnP (its error pf_error/pf) and the
#    Muraveva et al. (2025) RRab relation on Gaia's phi31 (cosine), feh_muraveva2025.
awk -F, -v OFS=, '
NR == 1 {
    for (i = 1; i <= NF; ++i) col[$i] = i
    ncol = NF
    print $0, "lnP", "lnP_error", "feh_muraveva2025"
    next
}
{
    bad = (NF != ncol)
    for (i = 1; i <= NF && !bad; ++i) {
        v = tolower($i)
        if (v == "" || v ~ /nan|inf|null/) bad = 1
    }
    if (bad) { ++dropped; next }
    p = $col["pf"]; f31 = $col["phi31_g"]
    if (f31 < lo31 || NR == 2) lo31 = f31
    if (f31 > hi31 || NR == 2) hi31 = f31
    printf "%s,%.17g,%.17g,%.17g\n", $0, log(p), $col["pf_error"] / p, -0.37 - 5.55 * p + 0.94 * f31
    ++kept
}
END {
    printf "rows: %d kept, %d dropped (missing or non-finite parameters)\n", kept, dropped + 0 > "/dev/stderr"
    printf "phi31_g range [%.4f, %.4f] rad (cosine convention, RRab ~2 rad; no value near 0 or 2 pi, so no wrapping)\n", \
           lo31, hi31 > "/dev/stderr"
}' "$table" > "$work/lamost.csv" 2> "$work/rows.txt"
cat "$work/rows.txt"
echo

# 2. Feature ranking: F-test, forward and backward selection (least squares, CV RMSE).
echo "== feature selection (ferrum-relations select) =="
"$fr" select --table "$work/lamost.csv" --target FeH --features pf,lnP,phi31_g,phi21_g,A1,A2,A3 \
    --scoring rmse "${cv[@]}"

# 3. Cross-validation on the same folds: the paper's labels, refits and boosting.
echo "== cross-validation against LAMOST [Fe/H] (ferrum-relations cv) =="
boost=()
if "$fr" cv --help 2>/dev/null | grep -q -- --boosting && "$fr" cv --table "$work/lamost.csv" --target FeH \
        --boosting pf --rounds 1 --folds 2 --repeats 1 >/dev/null 2>&1; then
    boost=(--boosting pf,phi31_g,phi21_g,A1,A2,A3)
else
    echo "(gradient boosting left out: this ferrum-relations is built without ferrum::xgboost)"
fi
"$fr" cv --table "$work/lamost.csv" --target FeH --target-error FeH_err --error-suffix _error "${cv[@]}" \
    --reference feh_muraveva2025 \
    --linear pf,phi31_g \
    --linear lnP,phi31_g \
    --linear pf,phi31_g,A1 \
    --linear pf,phi31_g,A1,A2 \
    --linear lnP,phi31_g,A1,A2 \
    --linear pf,phi31_g,A1,A2,A3 \
    --linear pf,phi31_g,phi21_g,A1,A2 \
    --linear pf,phi31_g,phi21_g,A1,A2,A3 \
    "${boost[@]}"
echo "-- the same folds, feature errors ignored (only the LAMOST errors and sigma_int) --"
"$fr" cv --table "$work/lamost.csv" --target FeH --target-error FeH_err "${cv[@]}" \
    --linear pf,phi31_g \
    --linear "$chosen"
echo

# 4. The chosen relation on all rows: maximum likelihood + Laplace, then the MCMC posterior as a check.
echo "== the chosen relation: FeH ~ $chosen (ferrum-relations fit) =="
"$fr" fit --table "$work/lamost.csv" --target FeH --target-error FeH_err --features "$chosen" \
    --feature-errors "$chosen_err" --convention cosine --out "$work/lamost_rrab.json"
echo
echo "-- coefficients at full precision (for spectroscopic.hpp) --"
jq -r '(["intercept"] + .features) as $n | range(0; .coefficients | length) as $k |
       "\($n[$k]) \(.coefficients[$k]) +- \(.covariance[$k][$k] | sqrt)"' "$work/lamost_rrab.json"
jq -r '"sigma_int \(.sigma_int) +- \(.sigma_int_sd)", "n \(.training.n)"' "$work/lamost_rrab.json"
echo
echo "== the same, MCMC (32 walkers x 3000 steps after 1000 burn-in) =="
"$fr" fit --table "$work/lamost.csv" --target FeH --target-error FeH_err --features "$chosen" \
    --feature-errors "$chosen_err" --convention cosine --out "$work/lamost_rrab_mcmc.json" \
    --mcmc --walkers 32 --burn-in 1000 --steps 3000
