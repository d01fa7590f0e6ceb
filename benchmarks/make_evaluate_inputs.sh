#!/usr/bin/env bash
# Large inputs for `evaluate` (both tools), to measure its memory on catalogue-sized joins (docs/reliability.md,
# issue #13 item 7). Writes into DIR:
#   rrl_pred.csv    source_id,type,feh,feh_sigma,n_epochs  (N rows; every 20th flagged: empty feh)
#   rrl_labels.csv  source_id,feh,feh_error                (the same stars in another order, every 10th missing)
#   giants_pred.csv source_id,feh,feh_sigma                (N rows)
#   giants_cat.csv  source_id,feh,feh_error                (the same stars in another order, every 10th missing)
# The label order is a permutation (row i holds star (i * 7919) mod N), so the join has to match across the
# whole file. Values come from awk's rand() seeded with SEED: rerun with another seed for other numbers.
#   usage: benchmarks/make_evaluate_inputs.sh DIR N [SEED]
set -euo pipefail
dir=$1 n=$2 seed=${3:-1}
mkdir -p "$dir"
awk -v n="$n" -v seed="$seed" -v dir="$dir" 'BEGIN {
    srand(seed)
    if (n % 7919 == 0) { print "N must not be a multiple of 7919" > "/dev/stderr"; exit 1 }
    p = dir "/rrl_pred.csv"; g = dir "/giants_pred.csv"
    print "source_id,type,feh,feh_sigma,n_epochs" > p
    print "source_id,feh,feh_sigma" > g
    for (i = 0; i < n; i++) {
        id = 4295098368 + 977 * i
        t = -2.5 + 2.0 * rand(); f = t + 0.3 * (rand() - 0.5); s = 0.1 + 0.2 * rand()
        printf "%.0f,%s,%s,%.5f,%d\n", id, (rand() < 0.7 ? "RRab" : "RRc"), (i % 20 == 7 ? "" : sprintf("%.5f", f)), s,
            20 + int(120 * rand()) > p
        printf "%.0f,%.5f,%.5f\n", id, f, s > g
    }
    close(p); close(g)
    l = dir "/rrl_labels.csv"; c = dir "/giants_cat.csv"
    print "source_id,feh,feh_error" > l
    print "source_id,feh,feh_error" > c
    for (i = 0; i < n; i++) {
        k = (i * 7919) % n
        if (k % 10 == 3) continue
        id = 4295098368 + 977 * k
        printf "%.0f,%.5f,%.5f\n", id, -2.5 + 2.0 * rand(), 0.05 + 0.2 * rand() > l
        printf "%.0f,%.5f,%.5f\n", id, -3.5 + 4.0 * rand(), 0.05 + 0.2 * rand() > c
    }
}'
ls -l "$dir"
