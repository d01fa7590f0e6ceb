"""Peer for bench_fitpack: scipy.interpolate.UnivariateSpline(x, y, w, k=3, s) and
splrep(x, y, w, per=1, s) + splev on the light curves written by bench_fitpack.
usage: fitpack_peer.py FILE   (FILE: JSON {"grid": [...], "cases": [{"n", "s", "x": [[...]], "y", "w"}]};
x holds phases in [0, 1); the periodic fit gets splrep's form, the wrap point x0 + 1 with y0, w0).
Prints one JSON line per case: {"n", "fits", "open_us", "periodic_us", "open_values", "periodic_values"}
(times per fit, best of 3 passes; values of the first curve's fits on the grid)."""
import json
import sys
import time

import numpy as np
import scipy
from scipy.interpolate import UnivariateSpline, splev, splrep

data = json.load(open(sys.argv[1]))
grid = np.asarray(data["grid"])
for case in data["cases"]:
    xs = [np.asarray(v) for v in case["x"]]
    ys = [np.asarray(v) for v in case["y"]]
    ws = [np.asarray(v) for v in case["w"]]
    s = float(case["s"])
    order = [np.argsort(x) for x in xs]
    xs = [x[o] for x, o in zip(xs, order)]
    ys = [y[o] for y, o in zip(ys, order)]
    ws = [w[o] for w, o in zip(ws, order)]
    per_x = [np.r_[x, x[0] + 1.0] for x in xs]
    per_y = [np.r_[y, y[0]] for y in ys]
    per_w = [np.r_[w, w[0]] for w in ws]

    def open_pass():
        return [UnivariateSpline(x, y, w=w, k=3, s=s) for x, y, w in zip(xs, ys, ws)]

    def periodic_pass():
        return [splrep(x, y, w=w, per=1, s=s) for x, y, w in zip(per_x, per_y, per_w)]

    best = {}
    for name, fn in (("open", open_pass), ("periodic", periodic_pass)):
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            fits = fn()
            t.append(time.perf_counter() - t0)
        best[name] = (min(t) / len(xs) * 1e6, fits)
    u0 = best["open"][1][0]
    tck0 = best["periodic"][1][0]
    x0 = xs[0][0]
    print(json.dumps({"n": case["n"], "fits": len(xs), "open_us": best["open"][0], "periodic_us": best["periodic"][0],
                      "open_values": u0(grid).tolist(),
                      "periodic_values": splev(x0 + (grid - x0) % 1.0, tck0).tolist(),
                      "scipy": scipy.__version__}), flush=True)
