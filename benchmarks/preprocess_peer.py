#!/usr/bin/python3
"""SciPy peer of ferrum's light-curve pre-processing (bench_preprocess.cpp launches it).

The same steps as ferrum::preprocessor, written the way a Python pipeline does them:
fold (eq. 1 of Monti et al. 2025) -> scipy.interpolate.make_smoothing_spline (GCV) ->
values at np.linspace(0, 1, N) -> standardise with np.std (ddof=0), keeping mean, std, peak-to-peak.

  preprocess_peer.py bench FILE [--sample K] [--n-phases N]
      FILE is either `source_id,phase,mag` (already folded; phase >= 1 dropped) or
      `source_id,time,mag,period,epoch` (folded here). Times every (count/K)-th curve, K in all, and prints one JSON line.
  preprocess_peer.py make-reference OUT.json [--seed S]
      Writes the oracle of tests/test_preprocess.cpp: fixed-lam pipelines and least-squares Fourier fits.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy.interpolate import make_smoothing_spline


def fold(t, period, epoch):
    x = (np.asarray(t) - epoch) / period
    return x - np.floor(x)


def merge_ties(x, y):
    """make_smoothing_spline needs strictly increasing x: tied phases become their mean with weight = count
    (the same penalised objective; ferrum's fitter does this internally)."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, start, counts = np.unique(x, return_index=True, return_counts=True)
    if len(ux) == len(x):
        return x, y, None
    sums = np.add.reduceat(y, start)
    return ux, sums / counts, counts.astype(float)


def preprocess(phase, mag, n_phases=264, lam=None):
    x, y, w = merge_ties(np.asarray(phase, float), np.asarray(mag, float))
    spl = make_smoothing_spline(x, y, w=w, lam=lam)
    grid = np.linspace(0.0, 1.0, n_phases)
    v = spl(grid)
    mean, std = v.mean(), v.std()
    return (v - mean) / std, mean, std, np.ptp(v)


def read_curves(path):
    import csv
    curves = {}
    with open(path) as f:
        r = csv.reader(f)
        header = next(r)
        folded = "phase" in header
        for row in r:
            sid = row[0]
            c = curves.setdefault(sid, {"x": [], "mag": []})
            x = float(row[1])
            if folded and x >= 1.0:
                continue
            c["x"].append(x)
            c["mag"].append(float(row[2]))
            if not folded:
                c["period"], c["epoch"] = float(row[3]), float(row[4])
    return folded, list(curves.values())


def bench(args):
    folded, curves = read_curves(args.file)
    stride = max(1, len(curves) // args.sample)  # an even sample: file order may sort by magnitude or field
    curves = curves[::stride][: args.sample]
    t0, c0 = time.perf_counter(), time.process_time()
    ok = 0
    ptp_sum = 0.0
    for c in curves:
        phase = np.asarray(c["x"]) if folded else fold(c["x"], c["period"], c["epoch"])
        try:
            _, _, _, ptp = preprocess(phase, c["mag"], args.n_phases)
            ok += 1
            ptp_sum += ptp
        except ValueError:
            pass
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    import scipy
    print(json.dumps({"peer": "scipy %s make_smoothing_spline" % scipy.__version__, "curves": len(curves),
                      "ok": ok, "seconds": dt, "cpu_seconds": dc, "curves_per_s": len(curves) / dt,
                      "curves_per_cpu_s": len(curves) / dc,
                      "mean_peak_to_peak": ptp_sum / max(ok, 1)}))


def fourier_lstsq(phase, mag, err, K):
    """Cosine-convention Fourier series by numpy's least squares: A_k = hypot(a, b), phi_k = atan2(-b, a)."""
    th = 2 * np.pi * np.asarray(phase)
    cols = [np.ones_like(th)]
    for k in range(1, K + 1):
        cols += [np.cos(k * th), np.sin(k * th)]
    X = np.stack(cols, axis=1)
    w = 1.0 / np.asarray(err)
    beta, *_ = np.linalg.lstsq(X * w[:, None], np.asarray(mag) * w, rcond=None)
    a, b = beta[1::2], beta[2::2]
    return beta[0], np.hypot(a, b), np.mod(np.arctan2(-b, a), 2 * np.pi)


def make_reference(args):
    rng = np.random.default_rng(args.seed)
    cases = []
    shapes = [
        ("rrab", 0.5831, [0.31, 0.155, 0.10, 0.066, 0.04], [4.1, 2.3, 0.7, 5.6, 4.0], 264),
        ("rrc", 0.3172, [0.22, 0.035, 0.012], [1.2, 3.9, 5.1], 265),
        ("rrab_sparse", 0.6420, [0.36, 0.17, 0.11, 0.07], [3.5, 1.1, 5.9, 3.0], 264),
    ]
    for name, period, amps, phis, n_phases in shapes:
        n = {"rrab": 80, "rrc": 60, "rrab_sparse": 25}[name]
        t = np.sort(rng.uniform(1700.0, 2700.0, n))
        epoch = 1712.25
        phase = fold(t, period, epoch)
        clean = 15.7 + sum(A * np.cos(2 * np.pi * (k + 1) * phase + p) for k, (A, p) in enumerate(zip(amps, phis)))
        err = rng.uniform(0.008, 0.03, n)
        mag = clean + err * rng.standard_normal(n)
        lam = float(10 ** rng.uniform(-6, -4))
        z, mean, std, ptp = preprocess(phase, mag, n_phases, lam=lam)
        K = len(amps)
        A0, A, ph = fourier_lstsq(phase, mag, err, K)
        cases.append({
            "name": name, "period": period, "epoch": epoch, "time": t.tolist(), "mag": mag.tolist(),
            "mag_err": err.tolist(), "n_phases": n_phases, "lam": lam,
            "standardised": z.tolist(), "mean": mean, "std": std, "peak_to_peak": ptp,
            "fourier_order": K, "A0": A0, "amplitude": A.tolist(), "phase": ph.tolist(),
        })
    import scipy
    out = {
        "meta": {"generator": "benchmarks/preprocess_peer.py make-reference", "seed": args.seed,
                 "numpy": np.__version__, "scipy": scipy.__version__},
        "about": "Light curves folded with eq. 1 of Monti et al. (2025), phase = x - floor(x), "
                 "x = (time - epoch)/period; scipy.interpolate.make_smoothing_spline(phase, mag, lam=lam) "
                 "(unweighted, fixed lam) evaluated at np.linspace(0, 1, n_phases) and standardised with "
                 "np.mean / np.std (ddof=0); peak_to_peak = np.ptp of the resampled magnitudes. Fourier: "
                 "weighted (1/mag_err) numpy lstsq of mag = A0 + sum_k a_k cos(2 pi k phase) + b_k sin(...) "
                 "with fourier_order harmonics, amplitude = hypot(a, b), phase = atan2(-b, a) mod 2 pi "
                 "(cosine convention A_k cos(2 pi k phase + phi_k)).",
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("file")
    b.add_argument("--sample", type=int, default=300)
    b.add_argument("--n-phases", type=int, default=264)
    m = sub.add_parser("make-reference")
    m.add_argument("out")
    m.add_argument("--seed", type=int, default=20261122)
    args = p.parse_args()
    bench(args) if args.cmd == "bench" else make_reference(args)


if __name__ == "__main__":
    sys.exit(main())
