#!/usr/bin/env python3
"""Derives the numbers embedded in include/ferrum/sim/detail/rrlyrae_params.hpp from the shared tables.

Reads (never copies) ../shared/data:
  muraveva2025_lmc_gaiadr3/rrl_params.csv     13,728 LMC RR Lyrae with Gaia DR3 Fourier parameters
  dekany2022_gaiadr2_rrab_g/lightcurves.csv    folded Gaia DR2 G light curves of RRab

and prints the generated header (or writes it with --write PATH). Steps:
 1. checks that the Muraveva et al. (2025) [Fe/H] column is the stated linear relation of P, phi31, A2;
 2. per type (RRab, RRc): a 6-d Gaussian on x = (ln P, ln A1, ln R21, ln R31, phi21, phi31), fitted with
    iterative 3.5-sigma Mahalanobis clipping (misclassified stars), then deconvolved: the mean per-star
    measurement covariance (from the catalogue's A_k, phi_k errors propagated to x) is subtracted, so
    the embedded Gaussian describes the true parameters, not the noisy catalogue values;
 3. RRab harmonics 4..8 from an order-8 Fourier fit of the well-sampled (>= 40 unique epochs) and bright
    (mean G < 18) DR2 curves: ln R_k1 regressed on (1, ln R21, ln R31) and phi_k1 given as the linear
    continuation phi31 + (k-3)(phi31 - phi21) plus a median offset, each with a residual scatter from
    which the median fit noise is removed in quadrature;
 4. the residual RMS around those order-8 fits per G bin (all mean G): the excess scatter of real
    curves beyond the formal errors, without the harmonics 5-8 that an order-4 fit would leave in it;
 5. summary statistics of the table (quantiles, median errors) that the C++ test compares the simulator
    against.
Usage: /usr/bin/python3 tools/fit_sim_params.py [--data DIR] [--write include/ferrum/sim/detail/rrlyrae_params.hpp]
"""
import argparse
import csv
import os
import sys

import numpy as np

TWO_PI = 2 * np.pi
K_HIGH = 8          # highest harmonic of simulated RRab
MIN_EPOCHS = 40     # unique epochs needed for an order-8 fit (17 coefficients)
BRIGHT_G = 18.0     # mean G limit of the curves used for the harmonics


def wrap(x):
    """Angle in (-pi, pi]."""
    return np.angle(np.exp(1j * x))


def load_muraveva(path):
    rows = list(csv.DictReader(open(path)))
    out = {}
    for t in ("RRab", "RRc"):
        r = [x for x in rows if x["Type"] == t]
        out[t] = {k: np.array([float(x[k]) for x in r]) for k in
                  ("Period", "A1", "A1_error", "A2", "A2_error", "A3", "A3_error", "Phi21", "Phi21_error",
                   "Phi31", "Phi31_error", "[Fe/H]")}
    return out


def check_relations(tab):
    ab, c = tab["RRab"], tab["RRc"]
    r_ab = ab["[Fe/H]"] - (-0.37 - 5.55 * ab["Period"] + 0.94 * ab["Phi31"])
    r_c = c["[Fe/H]"] - (0.80 - 8.54 * c["Period"] + 0.23 * c["Phi31"] - 9.34 * c["A2"])
    return np.abs(r_ab).max(), np.abs(r_c).max()


def transformed(d):
    """x = (ln P, ln A1, ln R21, ln R31, phi21, phi31) and each star's measurement covariance of x."""
    P, A1, A2, A3 = d["Period"], d["A1"], d["A2"], d["A3"]
    x = np.c_[np.log(P), np.log(A1), np.log(A2 / A1), np.log(A3 / A1), d["Phi21"], d["Phi31"]]
    e1, e2, e3 = d["A1_error"] / A1, d["A2_error"] / A2, d["A3_error"] / A3  # relative errors
    n = len(P)
    C = np.zeros((n, 6, 6))
    # ln A1, ln R21 = ln A2 - ln A1, ln R31 = ln A3 - ln A1 share the error of ln A1
    C[:, 1, 1] = e1 ** 2
    C[:, 1, 2] = C[:, 2, 1] = -e1 ** 2
    C[:, 1, 3] = C[:, 3, 1] = -e1 ** 2
    C[:, 2, 2] = e2 ** 2 + e1 ** 2
    C[:, 3, 3] = e3 ** 2 + e1 ** 2
    C[:, 2, 3] = C[:, 3, 2] = e1 ** 2
    # phi21 = phi2 - 2 phi1 and phi31 = phi3 - 3 phi1 share the error of phi1, which the catalogue does
    # not list; for white noise sd(phi1) = sd(A1)/A1, so cov(phi21, phi31) = 6 (sd(A1)/A1)^2
    C[:, 4, 4] = d["Phi21_error"] ** 2
    C[:, 5, 5] = d["Phi31_error"] ** 2
    # (clipped so that each C_i stays positive definite where the listed phase errors are small)
    C[:, 4, 5] = C[:, 5, 4] = np.minimum(6 * e1 ** 2, 0.9 * d["Phi21_error"] * d["Phi31_error"])
    return x, C


def clipped_gaussian(x, iters=10):
    """Sample mean/covariance after iteratively dropping stars with Mahalanobis d^2 > 22.5 (the 99.9 %
    point of chi2 with 6 degrees of freedom): misclassified or badly measured stars."""
    keep = np.ones(len(x), bool)
    for _ in range(iters):
        mu = x[keep].mean(0)
        S = np.cov(x[keep].T)
        d2 = np.einsum("ij,jk,ik->i", x - mu, np.linalg.inv(S), x - mu)
        new = d2 < 22.46
        if (new == keep).all():
            break
        keep = new
    return mu, S, keep


def extreme_deconvolution(x, C, mu, S, iters=2000, tol=1e-8):
    """Maximum-likelihood Gaussian N(mu, S) of the true values when x_i ~ N(true_i, S + C_i): the
    one-component EM of Bovy, Hogg & Roweis (2011, AOAS 5, 1657). Stays positive definite, unlike
    subtracting the mean error covariance from the sample covariance."""
    for it in range(iters):
        T = S[None] + C                                      # per-star total covariance
        G = np.linalg.solve(T, np.broadcast_to(S, T.shape))  # T^-1 S
        d = x - mu
        b = mu + np.einsum("nji,nj->ni", G, d)               # S T^-1 d (S, T symmetric)
        B = S[None] - np.einsum("ij,njk->nik", S, G)          # S - S T^-1 S
        mu_new = b.mean(0)
        e = b - mu_new
        S_new = (np.einsum("ni,nj->ij", e, e) + B.sum(0)) / len(x)
        S_new = 0.5 * (S_new + S_new.T)
        step = max(np.abs(S_new - S).max(), np.abs(mu_new - mu).max())
        mu, S = mu_new, S_new
        if step < tol:
            break
    print(f"  extreme deconvolution: {it + 1} EM iterations, last step {step:.1e}", file=sys.stderr)
    return mu, S


def fit_type(d):
    x, C = transformed(d)
    mu, S_obs, keep = clipped_gaussian(x)
    S_err = C[keep].mean(0)
    mu_true, S_true = extreme_deconvolution(x[keep], C[keep], mu, S_obs)
    return mu_true, S_true, S_obs, S_err, keep


def fourier_fit(ph, m, K):
    X = [np.ones_like(ph)]
    for k in range(1, K + 1):
        X += [np.cos(TWO_PI * k * ph), np.sin(TWO_PI * k * ph)]
    X = np.array(X).T
    c, *_ = np.linalg.lstsq(X, m, rcond=None)
    a, b = c[1::2], c[2::2]
    A = np.hypot(a, b)
    phi = np.mod(np.arctan2(-b, a), TWO_PI)
    rms = np.sqrt(np.sum((m - X @ c) ** 2) / (len(m) - len(c)))
    return c[0], A, phi, rms


def harmonics(path):
    d = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=[("id", "i8"), ("ph", "f8"), ("m", "f8")])
    d = d[d["ph"] < 1]  # points beyond phase 1 repeat the first ones
    d = d[np.argsort(d["id"], kind="stable")]
    ids, start, cnt = np.unique(d["id"], return_index=True, return_counts=True)
    R, PH, NOISE_LR, NOISE_PH = [], [], [], []
    G_RMS = []  # (mean G, residual RMS around the order-8 fit) of every well-sampled curve
    for i in np.where(cnt >= MIN_EPOCHS)[0]:
        sl = slice(start[i], start[i] + cnt[i])
        A0, A, phi, rms = fourier_fit(d["ph"][sl], d["m"][sl], K_HIGH)
        G_RMS.append((A0, rms))
        if A0 >= BRIGHT_G:
            continue
        n = cnt[i]
        s_coef = rms * np.sqrt(2.0 / n)  # sd of one cos/sin coefficient for evenly spread phases
        R.append(A / A[0])
        PH.append(np.mod(phi - np.arange(1, K_HIGH + 1) * phi[0], TWO_PI))
        NOISE_LR.append(s_coef / A)                    # sd of ln A_k (small-noise limit)
        NOISE_PH.append(s_coef / A)                    # sd of phi_k
    R, PH, NL, NP = map(np.array, (R, PH, NOISE_LR, NOISE_PH))
    lr = np.log(R)
    rows = []
    for k in range(4, K_HIGH + 1):
        j = k - 1
        X = np.c_[np.ones(len(lr)), lr[:, 1], lr[:, 2]]
        keep = np.ones(len(lr), bool)
        for _ in range(5):  # 3-sigma clipped least squares
            coef, *_ = np.linalg.lstsq(X[keep], lr[keep, j], rcond=None)
            e = lr[:, j] - X @ coef
            s = 1.4826 * np.median(np.abs(e[keep]))
            keep = np.abs(e) < 3 * s
        noise_lr = np.median(np.sqrt(NL[:, j] ** 2 + NL[:, 0] ** 2))
        s_lr = np.sqrt(max(s ** 2 - noise_lr ** 2, (0.25 * s) ** 2))
        pred = PH[:, 2] + (k - 3) * (PH[:, 2] - PH[:, 1])
        dev = wrap(PH[:, j] - pred)
        off = np.median(dev)
        s_ph = 1.4826 * np.median(np.abs(dev - off))
        noise_ph = np.median(np.sqrt(NP[:, j] ** 2 + (k * NP[:, 0]) ** 2
                                     + ((k - 2) * NP[:, 2]) ** 2 + ((k - 3) * NP[:, 1]) ** 2))
        s_phr = np.sqrt(max(s_ph ** 2 - noise_ph ** 2, (0.25 * s_ph) ** 2))
        rows.append((k, coef, s, noise_lr, s_lr, off, s_ph, noise_ph, s_phr, np.median(R[:, j])))
    # Scatter left around the order-8 fit (degrees-of-freedom corrected) per G bin: noise, crowding,
    # calibration and modulation, but no longer the harmonics 5-8 that the simulator draws itself.
    G_RMS = np.array(G_RMS)
    bins = []
    for lo, hi in ((13, 15), (15, 16), (16, 17), (17, 18), (18, 19), (19, 21)):
        s = (G_RMS[:, 0] >= lo) & (G_RMS[:, 0] < hi)
        q = np.percentile(G_RMS[s, 1], [16, 50, 84])
        bins.append((np.median(G_RMS[s, 0]), q[0], q[1], q[2], int(s.sum())))
    return len(R), rows, bins


def summary(d):
    """Quantiles (16, 50, 84) and median measurement errors of P, A1, R21, R31, phi21, phi31, [Fe/H]."""
    P, A1, A2, A3 = d["Period"], d["A1"], d["A2"], d["A3"]
    vals = [P, A1, A2 / A1, A3 / A1, d["Phi21"], d["Phi31"], d["[Fe/H]"]]
    q = [np.percentile(v, [16, 50, 84]) for v in vals]
    err = [0.0, np.median(d["A1_error"]),
           np.median(A2 / A1 * np.hypot(d["A2_error"] / A2, d["A1_error"] / A1)),
           np.median(A3 / A1 * np.hypot(d["A3_error"] / A3, d["A1_error"] / A1)),
           np.median(d["Phi21_error"]), np.median(d["Phi31_error"]), 0.0]
    # Spearman rank correlations of the six Fourier variables (robust to the misclassified stars)
    ranks = np.array([np.argsort(np.argsort(v)) for v in vals[:6]], dtype=float)
    rho = np.corrcoef(ranks)
    corr = [rho[i, j] for i in range(6) for j in range(i + 1, 6)]
    return q, err, corr


def arr(v, fmt="{:.10g}"):
    return "{" + ", ".join(fmt.format(float(x)) for x in v) + "}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--write", help="write the generated header here instead of printing it")
    a = ap.parse_args()
    tab = load_muraveva(os.path.join(a.data, "muraveva2025_lmc_gaiadr3", "rrl_params.csv"))
    r_ab, r_c = check_relations(tab)
    print(f"relation residuals: RRab {r_ab:.2e}, RRc {r_c:.2e}", file=sys.stderr)
    if max(r_ab, r_c) > 1e-9:
        sys.exit("the [Fe/H] column is not the stated relation")

    out = []
    w = out.append
    w("// GENERATED by tools/fit_sim_params.py from ../shared/data (Muraveva et al. 2025 LMC Gaia DR3 table;")
    w("// Dekany & Grebel 2022 Gaia DR2 G curves). Do not edit: rerun the script. Numbers behind the RR Lyrae")
    w("// simulator: deconvolved Gaussians of the Fourier parameters, higher-harmonic model, table summaries.")
    w("#pragma once")
    w("")
    w("#include <array>")
    w("")
    w("namespace ferrum::sim::detail {")
    w("")
    w("/// A Gaussian on x = (ln P, ln A1, ln R21, ln R31, phi21, phi31) (P in d, A in mag, phi in rad, Gaia")
    w("/// cosine convention): mean and lower Cholesky factor L of the covariance (Sigma = L L^T).")
    w("struct parameter_gaussian {")
    w("    std::array<double, 6> mean;")
    w("    std::array<double, 21> cholesky;  ///< row-major lower triangle: L00, L10, L11, L20, ...")
    w("    std::array<double, 21> covariance;  ///< same layout, Sigma itself (for tests)")
    w("    int stars_used;")
    w("};")
    w("")
    w("/// Summary of the catalogue (observed) values: quantiles 16/50/84 of P, A1, R21, R31, phi21, phi31,")
    w("/// [Fe/H], the median catalogue error of each (0 where the table has none), and the Spearman rank")
    w("/// correlations of the first six (pairs (0,1), (0,2), ..., (4,5)).")
    w("struct table_summary {")
    w("    std::array<std::array<double, 3>, 7> quantiles;")
    w("    std::array<double, 7> median_error;")
    w("    std::array<double, 15> spearman;")
    w("    int stars;")
    w("};")
    w("")
    for t, name in (("RRab", "rrab"), ("RRc", "rrc")):
        mu, S, S_obs, S_err, keep = fit_type(tab[t])
        L = np.linalg.cholesky(S)
        tri = lambda M: [M[i, j] for i in range(6) for j in range(i + 1)]
        print(f"{t}: {keep.sum()}/{len(keep)} stars kept; sd obs {np.sqrt(np.diag(S_obs)).round(3)}, "
              f"sd true {np.sqrt(np.diag(S)).round(3)}", file=sys.stderr)
        w(f"inline constexpr parameter_gaussian {name}_gaussian{{")
        w(f"    {arr(mu)},")
        w(f"    {arr(tri(L))},")
        w(f"    {arr(tri(S))},")
        w(f"    {int(keep.sum())}}};")
        q, err, corr = summary(tab[t])
        w(f"inline constexpr table_summary {name}_table{{")
        w("    {{" + ", ".join(arr(x) for x in q) + "}},")
        w(f"    {arr(err)},")
        w(f"    {arr(corr)},")
        w(f"    {len(tab[t]['Period'])}}};")
        w("")

    n, rows, bins = harmonics(os.path.join(a.data, "dekany2022_gaiadr2_rrab_g", "lightcurves.csv"))
    w(f"/// RRab harmonics k = 4..{K_HIGH} (order-{K_HIGH} fits of {n} DR2 G curves with >= {MIN_EPOCHS} epochs and")
    w(f"/// mean G < {BRIGHT_G}): ln R_k1 = c0 + c1 ln R21 + c2 ln R31 + N(0, sd_ln_r), and")
    w("/// phi_k1 = phi31 + (k - 3)(phi31 - phi21) + phase_offset + N(0, sd_phase), with the fit noise removed")
    w("/// from both scatters. Also the raw medians of R_k1 for the documentation and tests.")
    w("struct harmonic_model {")
    w("    std::array<double, 3> ln_r_coef;")
    w("    double sd_ln_r;")
    w("    double phase_offset;")
    w("    double sd_phase;")
    w("    double median_r;")
    w("};")
    w(f"inline constexpr int rrab_harmonics = {K_HIGH};")
    w(f"inline constexpr std::array<harmonic_model, {K_HIGH - 3}> rrab_high_harmonics{{{{")
    for (k, coef, s, nl, slr, off, sph, nph, sphr, mr) in rows:
        print(f"k={k}: lnR coef {coef.round(3)} sd {s:.3f} (noise {nl:.3f}) -> {slr:.3f}; "
              f"phase off {off:.3f} sd {sph:.3f} (noise {nph:.3f}) -> {sphr:.3f}; median R {mr:.4f}",
              file=sys.stderr)
        w(f"    {{{arr(coef)}, {slr:.6g}, {off:.6g}, {sphr:.6g}, {mr:.6g}}},  // k = {k}")
    w("}};")
    w("")
    w(f"/// Residual RMS (mag) around the order-{K_HIGH} fits of the same curves (all mean G), per G bin: the")
    w("/// bin's median G, then the 16th, 50th and 84th percentiles, and the number of curves.")
    w("struct residual_rms_bin {")
    w("    double g, p16, median, p84;")
    w("    int curves;")
    w("};")
    w(f"inline constexpr std::array<residual_rms_bin, {len(bins)}> order8_residual_rms{{{{")
    for (g, p16, p50, p84, nb) in bins:
        print(f"G {g:.2f}: order-8 residual RMS {p50*1e3:.1f} [{p16*1e3:.1f}, {p84*1e3:.1f}] mmag ({nb} curves)",
              file=sys.stderr)
        w(f"    {{{g:.4g}, {p16:.4g}, {p50:.4g}, {p84:.4g}, {nb}}},")
    w("}};")
    w("")
    w("}  // namespace ferrum::sim::detail")
    text = "\n".join(out) + "\n"
    if a.write:
        with open(a.write, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
