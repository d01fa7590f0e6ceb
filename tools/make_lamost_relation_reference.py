#!/usr/bin/env python3
"""Writes tests/data/relations/lamost_ml_scipy.json, the SciPy oracle of
tests/test_relations_spectroscopic.cpp: maximum-likelihood fits of ferrum's linear-relation likelihood

    y_i ~ N(b0 + sum_j b_j x_ij,  sigma_y,i^2 + sum_j b_j^2 sigma_x,ij^2 + sigma_int^2)

computed independently with scipy.optimize (BFGS on the analytic gradient, then Newton polishing with
the Hessian from central differences of that gradient; covariance = inverse Hessian), on
  * "synthetic": a seeded data set (numpy default_rng(seed)) stored in the file, so that the check runs
    without ../shared/data;
  * "lamost": the RRab of ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv with the features
    of the relation in include/ferrum/relations/spectroscopic.hpp (only the results are stored, with the
    row count and sum of the target so that the test can tell it reads the same table).

Run with the system Python (SciPy 1.10):
    /usr/bin/python3 tools/make_lamost_relation_reference.py [--seed 1] [--table PATH] \
        [--out tests/data/relations/lamost_ml_scipy.json]
"""
import argparse
import csv
import json
import math
import os

import numpy as np
import scipy
from scipy import optimize

FEATURES = ["pf", "phi31_g", "A1", "A2"]
ERRORS = ["pf_error", "phi31_g_error", "A1_error", "A2_error"]


def nll_and_grad(theta, X, E, y, ey):
    """Negative log-likelihood (with the 2 pi terms) and its gradient in theta = (b0, b_1..b_p, s), sigma_int = |s|."""
    b0, b, s = theta[0], theta[1:-1], theta[-1]
    r = y - b0 - X @ b
    var = ey ** 2 + (E ** 2) @ (b ** 2) + s ** 2
    nll = 0.5 * np.sum(np.log(2 * np.pi * var) + r ** 2 / var)
    w = 0.5 * (1.0 / var - r ** 2 / var ** 2)  # d nll / d var
    g = np.empty_like(theta)
    g[0] = -np.sum(r / var)
    g[1:-1] = -(X.T @ (r / var)) + 2.0 * b * ((E ** 2).T @ w)
    g[-1] = 2.0 * s * np.sum(w)
    return nll, g


def hessian(theta, args, h=1e-5):
    n = theta.size
    H = np.empty((n, n))
    for k in range(n):
        step = h * max(1.0, abs(theta[k]))
        tp, tm = theta.copy(), theta.copy()
        tp[k] += step
        tm[k] -= step
        H[:, k] = (nll_and_grad(tp, *args)[1] - nll_and_grad(tm, *args)[1]) / (2 * step)
    return 0.5 * (H + H.T)


def ml_fit(X, E, y, ey):
    args = (X, E, y, ey)
    A = np.c_[np.ones(len(y)), X]
    w = 1.0 / ey ** 2
    b = np.linalg.solve(A.T @ (A * w[:, None]), A.T @ (w * y))  # weighted least squares start
    s0 = max(np.std(y - A @ b), 0.05)
    theta = np.r_[b, s0]
    res = optimize.minimize(nll_and_grad, theta, args=args, jac=True, method="BFGS",
                            options={"gtol": 1e-10, "maxiter": 10000})
    theta = res.x
    for _ in range(20):  # Newton polishing (the finite-difference Hessian is accurate to ~1e-8 relative)
        g = nll_and_grad(theta, *args)[1]
        if np.max(np.abs(g)) < 1e-11:
            break
        theta = theta - np.linalg.solve(hessian(theta, args), g)
    theta[-1] = abs(theta[-1])
    H = hessian(theta, args)
    C = np.linalg.inv(H)
    nll, g = nll_and_grad(theta, *args)
    return {"coefficients": theta[:-1].tolist(), "sigma_int": float(theta[-1]),
            "sd": np.sqrt(np.diag(C)).tolist(), "log_likelihood": float(-nll),
            "max_abs_gradient": float(np.max(np.abs(g))), "optimizer": "BFGS + Newton (finite-difference Hessian)"}


def synthetic(rng, n):
    P = rng.uniform(0.42, 0.75, n)
    phi31 = 1.6 + 2.5 * (P - 0.42) + rng.normal(0, 0.35, n)
    A1 = rng.uniform(0.1, 0.45, n)
    eP = np.full(n, 1e-5)
    e31 = rng.uniform(0.03, 0.3, n)
    eA1 = rng.uniform(0.005, 0.04, n)
    ey = rng.uniform(0.05, 0.2, n)
    truth = [-0.5, -5.0, 0.8, 1.2, 0.25]  # b0, b_P, b_phi31, b_A1, sigma_int
    tP, t31, tA1 = P + eP * rng.normal(size=n), phi31 + e31 * rng.normal(size=n), A1 + eA1 * rng.normal(size=n)
    y = truth[0] + truth[1] * tP + truth[2] * t31 + truth[3] * tA1 + truth[4] * rng.normal(size=n) + ey * rng.normal(size=n)
    X, E = np.c_[P, phi31, A1], np.c_[eP, e31, eA1]
    return {"names": ["P", "phi31", "A1"], "truth": truth, "columns": X.T.tolist(), "errors": E.T.tolist(),
            "y": y.tolist(), "y_err": ey.tolist(), "fit": ml_fit(X, E, y, ey)}


def lamost(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = []
    for r in rows:
        vals = [r[c] for c in FEATURES + ERRORS + ["FeH", "FeH_err"]]
        if all(v.strip() != "" and math.isfinite(float(v)) for v in vals):
            keep.append(r)
    col = lambda c: np.array([float(r[c]) for r in keep])
    X = np.c_[tuple(col(c) for c in FEATURES)]
    E = np.c_[tuple(col(c) for c in ERRORS)]
    y, ey = col("FeH"), col("FeH_err")
    return {"table": "liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv", "features": FEATURES, "errors": ERRORS,
            "target": "FeH", "target_error": "FeH_err", "n": len(y), "sum_target": float(np.sum(y)),
            "fit": ml_fit(X, E, y, ey)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--table", default=os.path.join(here, "..", "..", "shared", "data", "liu2020_lamost_gaiadr3_rrl",
                                                    "rrl_params_lamost.csv"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "relations", "lamost_ml_scipy.json"))
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    out = {"generator": "tools/make_lamost_relation_reference.py", "seed": a.seed,
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "synthetic": synthetic(rng, 150), "lamost": lamost(a.table)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}")
    for k in ("synthetic", "lamost"):
        print(k, json.dumps(out[k]["fit"]))


if __name__ == "__main__":
    main()
