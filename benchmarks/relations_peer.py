"""Peer for bench_relations: the same tasks with SciPy / scikit-learn on the Muraveva et al. (2025) RRab table.
usage: relations_peer.py rrl_params.csv REPEATS
Prints one JSON line: seconds (best of REPEATS) per task and the maximum-likelihood coefficients."""
import csv
import json
import sys
import time

import numpy as np
import scipy
import sklearn
from scipy.optimize import minimize
from sklearn.feature_selection import SequentialFeatureSelector, f_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold


def best_of(repeats, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


path, repeats = sys.argv[1], int(sys.argv[2])
rows = [r for r in csv.DictReader(open(path)) if r["Type"] == "RRab"]
col = lambda k: np.array([float(r[k]) for r in rows])
P, phi, A2 = col("Period"), col("Phi31"), col("A2")
ephi, eA2 = col("Phi31_error"), col("A2_error")
y, ey = col("[Fe/H]"), col("[Fe/H]_error")
A = np.c_[np.ones_like(P), P, phi, A2]
E2 = np.c_[np.zeros_like(P), np.zeros_like(P), ephi**2, eA2**2]


def nll(t):
    b, s = t[:4], t[4]
    r = y - A @ b
    v = ey**2 + E2 @ (b * b) + s * s
    f = 0.5 * np.sum(np.log(2 * np.pi * v) + r * r / v)
    Fv = 0.5 * (1 / v - r * r / v**2)
    g = np.empty(5)
    g[:4] = -(A.T @ (r / v)) + 2 * b * (E2.T @ Fv)
    g[4] = 2 * s * Fv.sum()
    return f, g


def ml_fit():
    b0 = np.linalg.lstsq(A / ey[:, None], y / ey, rcond=None)[0]
    res = minimize(nll, np.r_[b0, 0.1], jac=True, method="BFGS", options={"gtol": 1e-8})
    h = res.x.copy()
    h[4] = abs(h[4])
    return h


t_ml, theta = best_of(repeats, ml_fit)
X = np.c_[P, phi, A2, col("A1"), col("A3"), col("Phi21")]
t_f, _ = best_of(repeats, lambda: f_regression(X, y))
cv = KFold(5, shuffle=False)
t_sfs, _ = best_of(max(1, repeats // 2), lambda: SequentialFeatureSelector(
    LinearRegression(), n_features_to_select=5, direction="forward", cv=cv, scoring="r2").fit(X, y))
print(json.dumps({"n": len(y), "ml_seconds": t_ml, "ml_theta": theta.tolist(), "f_regression_seconds": t_f,
                  "sfs_seconds": t_sfs, "scipy": scipy.__version__, "sklearn": sklearn.__version__}), flush=True)
