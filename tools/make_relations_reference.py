#!/usr/bin/env python3
"""Writes tests/data/relations_ftest.json, the oracle of tests/test_relations_selection.cpp:
sklearn.feature_selection.f_regression (F, p), scipy.special.betainc, scipy.stats.f.sf and norm.ppf, and
sklearn's SequentialFeatureSelector (LinearRegression, R^2, unshuffled 5-fold KFold) forward and backward
supports for every number of features, with cross_val_score of the selected subsets.

Run with the system Python (scikit-learn 1.2, SciPy 1.10):
    /usr/bin/python3 tools/make_relations_reference.py [--seed 1] [--out tests/data/relations_ftest.json]
"""
import argparse
import json

import numpy as np
import scipy
import sklearn
from scipy import special, stats
from sklearn.feature_selection import SequentialFeatureSelector, f_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_score


def dataset(rng, n):
    names = ["P", "phi31", "A1", "A2", "R21", "noise"]
    P = rng.uniform(0.45, 0.8, n)
    phi31 = 1.5 + 2.0 * (P - 0.45) + rng.normal(0, 0.4, n)
    A1 = rng.uniform(0.1, 0.4, n)
    A2 = 0.45 * A1 + rng.normal(0, 0.02, n)
    R21 = A2 / A1
    noise = rng.normal(0, 1, n)
    X = np.c_[P, phi31, A1, A2, R21, noise]
    y = -0.4 - 5.5 * P + 0.9 * phi31 + 1.5 * A2 + rng.normal(0, 0.2, n)
    return names, X, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="tests/data/relations_ftest.json")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    out = {"generator": "tools/make_relations_reference.py", "seed": a.seed,
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
           "f_regression": [], "betainc": [], "f_sf": [], "norm_ppf": [], "sequential": []}

    for n in (12, 60, 400):
        names, X, y = dataset(rng, n)
        F, p = f_regression(X, y)
        out["f_regression"].append({"names": names, "columns": X.T.tolist(), "y": y.tolist(),
                                    "F": F.tolist(), "p": p.tolist()})

    for _ in range(40):
        aa, bb = rng.choice([0.5, 1.0, 2.5, 7.0, 30.0, 200.0], 2)
        x = float(rng.uniform(0, 1))
        out["betainc"].append({"a": float(aa), "b": float(bb), "x": x, "value": float(special.betainc(aa, bb, x))})
    for f, d1, d2 in [(0.01, 1, 10), (1.0, 1, 58), (4.2, 1, 58), (30.0, 1, 10), (250.0, 1, 398), (2.0, 3, 7),
                      (1e4, 1, 143), (0.5, 5, 200)]:
        out["f_sf"].append({"f": f, "d1": d1, "d2": d2, "value": float(stats.f.sf(f, d1, d2))})
    for p in (1e-12, 1e-4, 0.01, 0.025, 0.16, 0.5, 0.84, 0.975, 0.999, 1 - 1e-9):
        out["norm_ppf"].append({"p": p, "value": float(stats.norm.ppf(p))})

    names, X, y = dataset(rng, 90)
    cv = KFold(n_splits=5, shuffle=False)
    seq = {"names": names, "columns": X.T.tolist(), "y": y.tolist(), "n_splits": 5, "forward": [], "backward": []}
    for direction in ("forward", "backward"):
        for k in range(1, X.shape[1]):
            sfs = SequentialFeatureSelector(LinearRegression(), n_features_to_select=k, direction=direction,
                                            scoring="r2", cv=cv).fit(X, y)
            sup = sfs.get_support()
            score = cross_val_score(LinearRegression(), X[:, sup], y, scoring="r2", cv=cv).mean()
            seq[direction].append({"k": k, "support": [names[j] for j in np.flatnonzero(sup)], "cv_r2": float(score)})
    out["sequential"].append(seq)

    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
