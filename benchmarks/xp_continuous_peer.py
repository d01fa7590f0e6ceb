"""Peer of bench_xp_continuous: GaiaXPy's `calibrate` sums in NumPy on the same file, default grid.

GaiaXPy itself is not installable here (no network), so this is a NumPy implementation of the sums its
calibrator does (gaiaxpy/spectrum/absolute_sampled_spectrum.py, calibration_absolute_sampled_spectrum.py):
design matrices and merge weights from the config folder's filters/XpFilter_v375wiv142r.xml, covariance
C = D R D with D = diag(e / s), flux = c @ A, error = sqrt(sum((A.T @ C) * A.T, 1)) * s, BP/RP merged.
Two timings: GaiaXPy's way (one source at a time) and batched (np.matmul over stacks of 500 sources, the
fastest NumPy form of the same sums). Parsing (np.fromstring per array cell, as GaiaXPy's str_to_array)
is timed apart. Prints one JSON object as its last line.
`convert` (pseudo-wavelengths, numpy.linspace(0, 60, 600), BP and RP apart): GaiaXPy's design matrix
(closed-form Hermite functions, scipy.special.eval_hermite, times the transformation matrix of
OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml; built once, not timed) and its per-source sums
flux = c @ A, error = sqrt(sum((A.T @ C) * A.T, 1)) * s, and with_correlation A.T @ C @ A, timed on the first
sources and scaled to all.
Usage: xp_continuous_peer.py FILE CONFIG_DIR [REPEATS]
"""
import csv
import json
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
from scipy.special import eval_hermite, gamma

csv.field_size_limit(1 << 30)


def load_config(config_dir):
    root = ET.parse(f"{config_dir}/filters/XpFilter_v375wiv142r.xml").getroot()
    merge = root.find("XpMerge")
    grid = np.array([float(v.text) for v in merge.find("sampleMeanWavelengths")])
    weights = {b: np.array([float(v.text) for v in merge.find(f"{b}Weights")]) for b in ("bp", "rp")}
    design = {}
    for b in ("bp", "rp"):
        node = root.find("XpSampling").find(f"{b}SampledBases")
        dim = int(node.attrib["dimension"])
        design[b] = np.array([float(v.text) for v in node]).reshape(len(grid), dim).T  # bases x samples
    return grid, design, weights


def parse(path):
    rows = {"source_id": [], "bp": [], "rp": []}
    with open(path) as f:
        r = csv.DictReader(f)
        for row in r:
            rows["source_id"].append(int(row["source_id"]))
            for b in ("bp", "rp"):
                n = int(row[f"{b}_n_parameters"])
                c = np.fromstring(row[f"{b}_coefficients"][1:-1], sep=",")
                e = np.fromstring(row[f"{b}_coefficient_errors"][1:-1], sep=",")
                k = np.fromstring(row[f"{b}_coefficient_correlations"][1:-1], sep=",")
                corr = np.eye(n)
                corr[np.tril_indices(n, -1)] = k
                corr = np.tril(corr) + np.tril(corr, -1).T
                rows[b].append((c, e, corr, float(row[f"{b}_standard_deviation"])))
    return rows


def calibrate_loop(rows, design, weights):
    out = []
    for k in range(len(rows["source_id"])):
        parts = {}
        for b in ("bp", "rp"):
            c, e, corr, s = rows[b][k]
            d = np.diag(e) / s
            cov = d @ corr @ d
            a = design[b]
            parts[b] = (c @ a, np.sqrt(np.sum(np.multiply(a.T @ cov, a.T), axis=1)) * s)
        flux = parts["bp"][0] * weights["bp"] + parts["rp"][0] * weights["rp"]
        err = np.sqrt(parts["bp"][1] ** 2 * weights["bp"] ** 2 + parts["rp"][1] ** 2 * weights["rp"] ** 2)
        out.append((flux, err))
    return out


def calibrate_batched(rows, design, weights, chunk=500):
    n = len(rows["source_id"])
    flux = np.empty((n, design["bp"].shape[1]))
    err = np.empty_like(flux)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        f2, e2 = 0.0, 0.0
        for b in ("bp", "rp"):
            c = np.stack([rows[b][k][0] for k in range(lo, hi)])          # m x n
            e = np.stack([rows[b][k][1] for k in range(lo, hi)])          # m x n
            corr = np.stack([rows[b][k][2] for k in range(lo, hi)])       # m x n x n
            a = design[b]                                                  # n x samples
            scaled = a.T[None, :, :] * e[:, None, :]                       # m x samples x n
            var = np.einsum("msn,msn->ms", np.matmul(scaled, corr), scaled)
            f2 = f2 + (c @ a) * weights[b]
            e2 = e2 + var * weights[b] ** 2
        flux[lo:hi] = f2
        err[lo:hi] = np.sqrt(e2)
    return flux, err


def convert_design(config_dir, sampling):
    root = ET.parse(f"{config_dir}/OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml").getroot()
    design = {}
    for b in ("bp", "rp"):
        cfg = root.find("hermiteFunction").find(f"{b}Config")
        dim = int(cfg.find("dimension").text)
        lo, hi = (float(cfg.find("range").attrib[k]) for k in ("from", "to"))
        nlo, nhi = (float(cfg.find("normalizedRange").attrib[k]) for k in ("from", "to"))
        scale = (nhi - nlo) / (hi - lo)
        x = sampling * scale + (nlo - lo * scale)
        n = np.arange(dim)[None, :]
        psi = (np.exp(-x[:, None] ** 2 / 2) * eval_hermite(n, x[:, None]) /
               np.sqrt(2.0 ** n * gamma(n + 1) * np.sqrt(np.pi)))
        t = np.array([float(v.text) for v in cfg.find("transformationMatrix").iter("value")]).reshape(dim, dim)
        design[b] = t @ psi.T  # bases x samples
    return design


def convert_loop(rows, design, with_correlation):
    out = []
    for k in range(len(rows["source_id"])):
        for b in ("bp", "rp"):
            c, e, corr, s = rows[b][k]
            d = np.diag(e) / s
            cov = d @ corr @ d
            a = design[b]
            flux = c @ a
            err = np.sqrt(np.sum(np.multiply(a.T @ cov, a.T), axis=1)) * s
            out.append((flux, err, a.T @ cov @ a if with_correlation else None))
    return out


def main(path, config_dir, repeats):
    grid, design, weights = load_config(config_dir)
    t0 = time.perf_counter()
    rows = parse(path)
    t_parse = time.perf_counter() - t0
    n = len(rows["source_id"])
    loop_n = min(n, 2000)  # GaiaXPy's per-source loop, on the first 2,000 sources (then per source)
    sub = {k: v[:loop_n] for k, v in rows.items()}
    t_loop = min(timed(lambda: calibrate_loop(sub, design, weights)) for _ in range(repeats)) * n / loop_n
    t_batch = min(timed(lambda: calibrate_batched(rows, design, weights)) for _ in range(repeats))
    flux, err = calibrate_batched(rows, design, weights)
    pwl_design = convert_design(config_dir, np.linspace(0, 60, 600))
    conv_n = min(n, 1000)
    sub = {k: v[:conv_n] for k, v in rows.items()}
    t_conv = min(timed(lambda: convert_loop(sub, pwl_design, False)) for _ in range(repeats)) * n / conv_n
    corr_n = min(n, 200)
    sub = {k: v[:corr_n] for k, v in rows.items()}
    t_corr = min(timed(lambda: convert_loop(sub, pwl_design, True)) for _ in range(repeats)) * n / corr_n
    first = convert_loop({k: v[:1] for k, v in rows.items()}, pwl_design, False)
    print(json.dumps({"n": n, "parse_seconds": t_parse, "calibrate_loop_seconds": t_loop,
                      "calibrate_batched_seconds": t_batch, "convert_loop_seconds": t_conv,
                      "convert_correlation_loop_seconds": t_corr, "first_convert_bp_flux": first[0][0].tolist(),
                      "first_convert_bp_flux_error": first[0][1].tolist(), "first_flux": flux[0].tolist(),
                      "first_flux_error": err[0].tolist(), "numpy": np.__version__}))


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
