"""Peer for bench_kde: scipy.stats.gaussian_kde (Scott) of each sample evaluated at its own points.
usage: kde_peer.py FILE...   (FILE: raw little-endian float64 samples, written by bench_kde)
For every FILE prints one JSON line {"file", "n", "seconds", "cpu_seconds", "scipy"} and writes the densities to FILE.scipy."""
import json
import sys
import time

import numpy as np
import scipy
from scipy.stats import gaussian_kde

for path in sys.argv[1:]:
    x = np.fromfile(path, dtype="<f8")
    t0, c0 = time.perf_counter(), time.process_time()
    values = gaussian_kde(x)(x)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    values.astype("<f8").tofile(path + ".scipy")
    print(json.dumps({"file": path, "n": int(x.size), "seconds": seconds, "cpu_seconds": cpu_seconds, "scipy": scipy.__version__}), flush=True)
