"""Peer of bench_read_dr3: Python's gzip + csv modules and NumPy on a Gaia DR3 bulk epoch-photometry file.

pandas is not installed for /usr/bin/python3 here. The same work as ferrum: skip the ECSV '#' header, for each
source parse the G arrays (transit times, magnitudes, flux_over_error, variability_flag_g_reject; null -> NaN),
keep transits with a magnitude that are not rejected, mag_err = 1.0857 / flux_over_error, sort by time.
Prints one JSON object as its last line.  Usage: read_dr3_peer.py FILE.csv.gz
"""
import csv
import gzip
import json
import sys
import time

import numpy as np


def floats(cell):
    return np.array(cell[1:-1].replace("null", "nan").split(","), dtype=np.float64) if len(cell) > 2 else \
        np.empty(0)


def main(path):
    t0 = time.perf_counter()
    with gzip.open(path, "rt", newline="") as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        header = next(rows)
        col = {name: i for i, name in enumerate(header)}
        ct, cm, cf, cr = (col[n] for n in ("g_transit_time", "g_transit_mag", "g_transit_flux_over_error",
                                           "variability_flag_g_reject"))
        sources = points = 0
        for r in rows:
            t, m, foe = floats(r[ct]), floats(r[cm]), floats(r[cf])
            rej = np.array([x.strip() == "true" for x in r[cr][1:-1].split(",")]) if len(r[cr]) > 2 else \
                np.zeros(0, bool)
            keep = ~np.isnan(m) & ~rej
            t, m, e = t[keep], m[keep], 1.0857362047581294 / foe[keep]
            o = np.argsort(t, kind="stable")
            t, m, e = t[o], m[o], e[o]
            if len(t):
                sources += 1
                points += len(t)
    total = time.perf_counter() - t0
    print(json.dumps({"peer": "gzip + csv + numpy", "numpy": np.__version__, "sources": sources,
                      "points": points, "total_s": total}))


if __name__ == "__main__":
    main(sys.argv[1])
