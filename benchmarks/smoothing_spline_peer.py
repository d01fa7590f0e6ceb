"""Peer for bench_smoothing_spline: scipy.interpolate.make_smoothing_spline (GCV lam) + evaluation at 264
uniform phases, on (a) every EVERY-th real light curve of CSV (source_id,phase,mag; phase >= 1 dropped;
tied phases merged to their mean, since SciPy rejects ties) and (b) the first NSYNTH synthetic curves of
the same deterministic family bench_smoothing_spline.cpp fits (50-260 points).
usage: smoothing_spline_peer.py CSV EVERY NSYNTH
Prints one JSON line: seconds for each part (fit + evaluation only, not reading) and SciPy's chosen lam."""
import csv
import json
import math
import sys
import time

import numpy as np
import scipy
import scipy.interpolate._bsplines as _b
from scipy.interpolate import make_smoothing_spline

path, every, nsynth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

chosen = []
_orig = _b._compute_optimal_gcv_parameter


def _spy(*a, **k):
    lam = _orig(*a, **k)
    chosen.append(float(lam))
    return lam


_b._compute_optimal_gcv_parameter = _spy

order, curves = [], {}
with open(path) as f:
    rows = csv.reader(f)
    next(rows)
    for sid, ph, mag in rows:
        ph = float(ph)
        if ph >= 1.0:
            continue
        if sid not in curves:
            curves[sid] = ([], [])
            order.append(sid)
        curves[sid][0].append(ph)
        curves[sid][1].append(float(mag))


def merged(x, y):
    x, y = np.asarray(x), np.asarray(y)
    o = np.argsort(x, kind="stable")
    x, y = x[o], y[o]
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size == x.size:
        return x, y
    return ux, np.bincount(inv, weights=y) / np.bincount(inv)


grid = np.linspace(0.0, 1.0, 264)
index = list(range(0, len(order), every))
data = [merged(*curves[order[i]]) for i in index]
t0 = time.perf_counter()
for x, y in data:
    make_smoothing_spline(x, y)(grid)
real_seconds = time.perf_counter() - t0
real_lam = chosen[:]


def synthetic(i):
    """Curve i of the synthetic family (bench_smoothing_spline.cpp builds the same numbers)."""
    n = 50 + (i * 7919) % 211
    x = np.array([t - math.floor(t) for t in (0.5 + k * 0.6180339887498949 + i * 0.1414213562373095 for k in range(n))])
    x.sort()
    y = 15.5 + 0.3 * np.cos(2 * np.pi * x) + 0.15 * np.cos(4 * np.pi * x + 3.9) + 0.1 * np.cos(6 * np.pi * x + 1.9)
    y += 0.02 * np.sin(12.9898 * np.arange(1, n + 1) + 78.233 * (i + 1))
    return x, y


chosen.clear()
synth = [synthetic(i) for i in range(nsynth)]
t0 = time.perf_counter()
for x, y in synth:
    make_smoothing_spline(x, y)(grid)
synth_seconds = time.perf_counter() - t0

print(json.dumps({"scipy": scipy.__version__,
                  "real": {"curves": len(data), "seconds": real_seconds, "index": index, "lam": real_lam},
                  "synthetic": {"curves": nsynth, "points": int(sum(x.size for x, _ in synth)),
                                "seconds": synth_seconds, "lam": chosen[:]}}))
