#!/usr/bin/python3
"""Oracle counts for the bounded evaluation plots (tests/test_metrics.cpp, models/rrlyrae_plots.hpp), computed by
NumPy and SciPy independently of ferrum:
- "grid": numpy.histogram2d of seeded points on a given range (some outside it, some on its edges).
- "stars": seeded RR Lyrae stars (label, prediction, epochs, sigma, type) and what the plots count from them:
  numpy.histogram2d of (label, prediction) on the range of both with 4 % margins (80 x 80 cells), of
  (log10 epochs, prediction - label) on their ranges with 4 % margins (40 x 80), and per type the number of
  stars with |prediction - label| <= z_p sigma, z_p = scipy.stats.norm.ppf((1 + p) / 2).
Run: /usr/bin/python3 tools/make_plot_counts_reference.py [--seed N] [--out tests/data/reference/plot_counts.json]
"""
import argparse
import json

import numpy as np
from scipy.stats import norm


def exact(v):
    return [float("%.17g" % x) for x in v]


def margins(lo, hi):
    m = 0.04 * (hi - lo)
    return lo - m, hi + m


ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=13)
ap.add_argument("--out", default="tests/data/reference/plot_counts.json")
a = ap.parse_args()
rng = np.random.default_rng(a.seed)

# a grid of 37 x 23 cells (not square: a transposed grid fails), points around it and on its edges
x0, x1, y0, y1, nx, ny = -3.2, 0.4, -3.5, 0.6, 37, 23
x = rng.normal(-1.5, 0.8, 3000)
y = x + rng.normal(0.0, 0.3, 3000)
x[:4] = [x0, x1, x1, -1.0]
y[:4] = [y0, y1, -1.0, y1]
h, _, _ = np.histogram2d(x, y, bins=(nx, ny), range=((x0, x1), (y0, y1)))
grid = {"x": exact(x), "y": exact(y), "range": [x0, x1, y0, y1], "bins": [nx, ny],
        "counts": h.astype(int).tolist(), "outside": int(len(x) - h.sum())}

# stars: RRab and RRc, integer epochs, sigmas
n = 3000
truth = rng.uniform(-3.0, 0.0, n)
feh = truth + rng.normal(0.0, 0.25, n)
epochs = rng.integers(15, 300, n)
sigma = rng.uniform(0.1, 0.4, n)
rrab = rng.uniform(size=n) < 0.7
lo, hi = margins(min(truth.min(), feh.min()), max(truth.max(), feh.max()))
pvt, _, _ = np.histogram2d(truth, feh, bins=(80, 80), range=((lo, hi), (lo, hi)))
le = np.log10(epochs.astype(float))
r = feh - truth
elo, ehi = margins(le.min(), le.max())
rlo, rhi = margins(r.min(), r.max())
rve, _, _ = np.histogram2d(le, r, bins=(40, 80), range=((elo, ehi), (rlo, rhi)))
nominal = [0.05 * k for k in range(1, 20)] + [0.99]
z = norm.ppf((1.0 + np.array(nominal)) / 2.0)
within = {t: [int(np.sum(np.abs(r[m]) <= zk * sigma[m])) for zk in z] for t, m in (("RRab", rrab), ("RRc", ~rrab))}
stars = {"truth": exact(truth), "feh": exact(feh), "n_epochs": epochs.tolist(), "sigma": exact(sigma),
         "rrab": rrab.astype(int).tolist(), "pred_vs_true": pvt.astype(int).tolist(),
         "residual_vs_epochs": rve.astype(int).tolist(), "nominal": nominal, "within": within,
         "n_rrab": int(rrab.sum()), "n_rrc": int((~rrab).sum())}
with open(a.out, "w") as f:
    json.dump({"seed": a.seed, "generator": "tools/make_plot_counts_reference.py", "grid": grid, "stars": stars}, f)
