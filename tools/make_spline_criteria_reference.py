#!/usr/bin/env python3
"""Oracle for tests/test_smoothing_spline.cpp's "which criterion" tests: a sparse, noisy simulated RRab curve
(the case where plain GCV nearly interpolates) with

  * SciPy's make_smoothing_spline (plain GCV, SciPy 1.10): the lam its search picked and its values at query;
  * the plain-GCV and modified-GCV (Kim & Gu 2004, gamma 1.4) criteria minimised here independently of ferrum:
    tr A(lam) from SciPy's fixed-lam fits of the unit vectors (A e_i), a scan over log10 lam refined by
    minimize_scalar, and the degrees of freedom tr A at both minima.

usage: make_spline_criteria_reference.py [seed] > tests/data/smoothing_spline_criteria.json
"""
import json
import sys

import numpy as np
import scipy
from scipy.interpolate import make_smoothing_spline
from scipy.optimize import minimize_scalar

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 4
rng = np.random.default_rng(seed)
n = 58
# Gaia-like: transits come in pairs (the two fields of view), here 0.002-0.02 cycles apart in phase
first = rng.uniform(0.0, 1.0, n // 2)
x = np.sort(np.concatenate([first, (first + rng.uniform(0.002, 0.02, n // 2)) % 1.0]))
# an RRab-like series: A_k and phi_k of a typical fundamental-mode star
amp = [0.36, 0.18, 0.12, 0.08, 0.05]
phi = [0.0, 3.5, 0.9, 4.6, 2.0]
y = 15.8 + sum(a * np.cos(2 * np.pi * (k + 1) * x + p) for k, (a, p) in enumerate(zip(amp, phi)))
y = y + rng.normal(0.0, 0.06, n)


def hat_trace(lam):
    eye = np.eye(n)
    return float(sum(make_smoothing_spline(x, eye[i], lam=lam)(x[i]) for i in range(n)))


def rss(lam):
    return float(np.sum((y - make_smoothing_spline(x, y, lam=lam)(x)) ** 2))


def criterion(lam, gamma):
    t = hat_trace(lam)
    if gamma * t >= n:
        return np.inf
    return rss(lam) / n / (1.0 - gamma * t / n) ** 2


def minimise(gamma):
    grid = np.arange(-12.0, 2.0, 0.1)
    vals = [criterion(10.0**u, gamma) for u in grid]
    i = int(np.nanargmin(vals))
    r = minimize_scalar(lambda u: criterion(10.0**u, gamma), bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]),
                        method="bounded", options={"xatol": 1e-6})
    lam = 10.0 ** r.x
    return {"lam": lam, "criterion": criterion(lam, gamma), "dof": hat_trace(lam)}


query = np.linspace(0.0, 1.0, 41)
# SciPy 1.10 does not return its lam: record what its search (minimize_scalar on (0, n)) returns
_bsplines = sys.modules[make_smoothing_spline.__module__]
_search = _bsplines._compute_optimal_gcv_parameter
_picked = []
_bsplines._compute_optimal_gcv_parameter = lambda *a: _picked.append(_search(*a)) or _picked[-1]
s = make_smoothing_spline(x, y)
_bsplines._compute_optimal_gcv_parameter = _search
lam_scipy = float(_picked[0])
out = {
    "meta": {"generator": "tools/make_spline_criteria_reference.py", "seed": seed, "numpy": np.__version__,
             "scipy": scipy.__version__},
    "about": "A sparse noisy RRab (58 epochs). scipy_values: scipy.interpolate.make_smoothing_spline(x, y) at query; "
             "scipy: the lam its search picked, with GCV and trA there. "
             "plain / modified: the GCV (gamma 1) and modified GCV (gamma 1.4, Kim & Gu 2004) criteria "
             "RSS/n / (1 - gamma trA/n)^2 minimised over log10 lam (scan + bounded refinement) with trA from "
             "SciPy's fixed-lam fits; dof = trA at the minimum.",
    "x": x.tolist(), "y": y.tolist(), "query": query.tolist(), "scipy_values": s(query).tolist(),
    "scipy": {"lam": lam_scipy, "criterion": criterion(lam_scipy, 1.0), "dof": hat_trace(lam_scipy)},
    "plain": minimise(1.0), "modified": minimise(1.4),
}
json.dump(out, sys.stdout, indent=1)
