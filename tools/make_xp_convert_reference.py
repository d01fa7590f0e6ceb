#!/usr/bin/env python3
"""Writes tests/data/xp_convert_covariance.json, the covariance oracle of tests/test_xp_convert.cpp.

GaiaXPy's own expected output of `convert(..., with_correlation=True)` (converter_with_covariance_missing_bp_
solution.csv) was too large to copy into ../shared/data, so this script redoes GaiaXPy's sums in NumPy/SciPy,
written from GaiaXPy's documented algorithm (gaiaxpy/spectrum/sampled_basis_functions.py populate_design_matrix,
xp_sampled_spectrum.py, sampled_spectrum.py, core/generic_functions.py; read, not copied):

* design matrix A (bases x samples) = T @ psi(x).T, psi_n(x) = exp(-x^2/2) H_n(x) / sqrt(2^n n! sqrt(pi))
  with H_n from scipy.special.eval_hermite (the closed form, not the recurrence ferrum uses), x the sampling
  mapped from <range> onto <normalizedRange>, T the <transformationMatrix> of the
  OptimisedCalibratedBases XML;
* the coefficients' covariance C = D R D, D = diag(e / s), R from the archive's correlations
  (numpy tril_indices(n, -1) order), all truncated to n_relevant_bases when asked;
* flux = c @ A, flux_error = sqrt(sum((A.T @ C) * A.T, 1)) s, and GaiaXPy's `covariance` A.T @ C @ A (which
  its own test rebuilds from the written correlation and flux_error as diag(err/s) Corr diag(err/s)).

Inputs: the three sources of test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.csv (the middle one
without BP), the case of GaiaXPy's test_converter_with_covariance.py, on a coarse grid (--samples points of
numpy.linspace(0, 60, n), default 16, to keep the file small), without and with truncation. No random numbers:
change --samples (or --lo/--hi) for other vectors.

Run with the system Python (NumPy 1.24, SciPy 1.10):
    /usr/bin/python3 tools/make_xp_convert_reference.py [--data ../shared/data/gaiaxpy]
        [--samples 16] [--out tests/data/xp_convert_covariance.json]
"""
import argparse
import csv
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
from scipy.special import eval_hermite, gamma

csv.field_size_limit(1 << 30)


def psi(n, x):
    return 1.0 / np.sqrt(math.pow(2, n) * gamma(n + 1) * np.sqrt(np.pi)) * np.exp(-x ** 2 / 2.0) * eval_hermite(n, x)


def design_matrices(xml_path, sampling):
    root = ET.parse(xml_path).getroot()
    out = {}
    for band in ("bp", "rp"):
        cfg = root.find("hermiteFunction").find(f"{band}Config")
        dim = int(cfg.find("dimension").text)
        tsd = int(cfg.find("transformedSetDimension").text)
        lo, hi = (float(cfg.find("range").attrib[k]) for k in ("from", "to"))
        nlo, nhi = (float(cfg.find("normalizedRange").attrib[k]) for k in ("from", "to"))
        scale = (nhi - nlo) / (hi - lo)
        x = sampling * scale + (nlo - lo * scale)
        t = np.array([float(v.text) for v in cfg.find("transformationMatrix").iter("value")]).reshape(dim, tsd)
        p = np.array([[psi(n, xi) for n in range(dim)] for xi in x])  # samples x dim
        out[band] = t @ p.T  # bases x samples
    return out


def cell(text):
    text = text.strip()
    return np.array([float(v) for v in text[1:-1].split(",")]) if text else None


def read_sources(path):
    sources = []
    with open(path) as f:
        for row in csv.DictReader(f):
            s = {"source_id": int(row["source_id"])}
            for band in ("bp", "rp"):
                c = cell(row[f"{band}_coefficients"])
                if c is None:
                    continue
                n = len(c)
                r = np.eye(n)
                r[np.tril_indices(n, -1)] = cell(row[f"{band}_coefficient_correlations"])
                r = np.tril(r) + np.tril(r, -1).T
                s[band] = dict(c=c, e=cell(row[f"{band}_coefficient_errors"]), r=r,
                               sd=float(row[f"{band}_standard_deviation"]),
                               relevant=int(row[f"{band}_n_relevant_bases"]))
            sources.append(s)
    return sources


def convert(sources, design, truncation):
    out = []
    for s in sources:
        o = {"source_id": str(s["source_id"])}
        for band in ("bp", "rp"):
            if band not in s:
                continue
            b = s[band]
            d = np.diag(b["e"]) / b["sd"]
            cov = d @ b["r"] @ d
            c, a = b["c"], design[band]
            if truncation:
                t = b["relevant"]
                c, cov, a = c[:t], cov[:t, :t], a[:t]
            o[band] = {"flux": (c @ a).tolist(),
                       "flux_error": (np.sqrt(np.sum((a.T @ cov) * a.T, axis=1)) * b["sd"]).tolist(),
                       "gaiaxpy_covariance": (a.T @ cov @ a).ravel().tolist(),
                       "standard_deviation": b["sd"]}
        out.append(o)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/gaiaxpy")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--lo", type=float, default=0.0)
    ap.add_argument("--hi", type=float, default=60.0)
    ap.add_argument("--out", default="tests/data/xp_convert_covariance.json")
    a = ap.parse_args()
    sampling = np.linspace(a.lo, a.hi, a.samples)
    design = design_matrices(f"{a.data}/config/OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml",
                             sampling)
    sources = read_sources(f"{a.data}/test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.csv")
    ref = {"generator": "tools/make_xp_convert_reference.py", "numpy": np.__version__,
           "input": "test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.csv",
           "sampling": sampling.tolist(),
           "full": convert(sources, design, False), "truncated": convert(sources, design, True)}
    with open(a.out, "w") as f:
        json.dump(ref, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
