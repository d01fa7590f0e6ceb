"""Peer for bench_periodogram: astropy LombScargle ('standard') on the curves and grids bench_periodogram wrote.
usage: periodogram_peer.py CASES.json
CASES.json: {"cases": [{"name", "t", "y", "dy", "f0", "df", "n"}, ...]}. For every case and method (nterms 1:
'fast' (Press & Rybicki FFT, astropy's default for regular grids), 'cython' (exact O(N F)); nterms 3: 'fastchi2'
(FFT sums), 'fastchi2' with use_fft=False (exact sums)) prints one JSON line {"case", "method", "nterms",
"seconds" (best of repeats), "cpu_seconds", "repeats", "astropy"} and writes the power to
CASES.json.<case>.<method>.<nterms>.f64 (little-endian float64)."""
import json
import sys
import time

import astropy
import numpy as np
from astropy.timeseries import LombScargle

METHODS = [(1, "fast", {}), (1, "cython", {}), (3, "fastchi2", {}), (3, "fastchi2_exact", {"use_fft": False})]


def timed(fn, budget=1.0):
    best, cpu_best, reps, spent = float("inf"), float("inf"), 0, 0.0
    while reps < 1 or (spent < budget and reps < 20):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        best, cpu_best, reps, spent = min(best, dt), min(cpu_best, dc), reps + 1, spent + dt
    return out, best, cpu_best, reps


spec = json.load(open(sys.argv[1]))
for c in spec["cases"]:
    t, y, dy = (np.asarray(c[k], dtype=float) for k in ("t", "y", "dy"))
    freq = c["f0"] + c["df"] * np.arange(c["n"])
    for nterms, method, kw in METHODS:
        if nterms == 3 and method == "fastchi2_exact" and c["n"] * len(t) > 2e7:
            continue  # a Python loop over frequencies: minutes per case
        ls = LombScargle(t, y, dy, nterms=nterms)
        m = "fastchi2" if method == "fastchi2_exact" else method
        power, s, cpu, reps = timed(lambda: ls.power(freq, method=m, assume_regular_frequency=True,
                                                     method_kwds=kw or None))
        power.astype("<f8").tofile(f"{sys.argv[1]}.{c['name']}.{method}.{nterms}.f64")
        print(json.dumps({"case": c["name"], "method": method, "nterms": nterms, "seconds": s, "cpu_seconds": cpu,
                          "repeats": reps, "astropy": astropy.__version__}), flush=True)
