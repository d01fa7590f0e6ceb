#!/usr/bin/python3
"""The oracle of tests/test_rrlyrae_calibration.cpp: the coverage-fitted sigma calibration of known populations.

Two equal groups of residuals r (sign +/-, equally often):
  A: sigma_raw = 0.05, |r| Laplace-tailed (exponential, scale beta = 0.12): heavier than a Gaussian's tails;
  B: sigma_raw = 0.20, |r| Rayleigh (scale lambda = 0.20): lighter than a Gaussian's tails.
The calibration sigma = sqrt((s sigma_raw)^2 + f^2) that covers the Gaussian shares of the population,
  0.5 P_A(|r| <= k sigma_A) + 0.5 P_B(|r| <= k sigma_B) = erf(k / sqrt 2)  for k = 1, 2,
is solved here with SciPy's root finder on the closed-form CDFs; the test draws the population by its
quantiles (stratified, no random numbers) and asks rrl_sigma_calibration::fit(..., coverage) for (s, f).
Where no sigma meets both levels — one raw sigma for every star, |r| ~ Exp(beta): c_k = 1 - exp(-k x), x =
sigma / beta — the fit is the compromise minimising ((c1 - p1) / 0.03)^2 + ((c2 - p2) / 0.02)^2, found
here by SciPy's bounded scalar minimiser.
Also printed: the Gaussian maximum-likelihood (s, f) of the same population (E r^2 per group: 2 beta^2,
lambda^2, both met exactly) and the coverage that calibration gives, which the quantile fit must beat.
Run: python3 tools/make_calibration_reference.py  (numbers pasted into the test with their digits).
"""
import math
from scipy.optimize import fsolve, minimize_scalar
from scipy.special import erf

A_RAW, B_RAW, BETA, LAM = 0.05, 0.20, 0.12, 0.20
P = [erf(k / math.sqrt(2)) for k in (1, 2)]


def cover(s, f, k):
    sa, sb = math.sqrt((s * A_RAW) ** 2 + f * f), math.sqrt((s * B_RAW) ** 2 + f * f)
    pa = 1 - math.exp(-k * sa / BETA)          # |r| ~ Exp(beta)
    pb = 1 - math.exp(-(k * sb / LAM) ** 2)    # |r| ~ Rayleigh(lambda): P(|r| <= x) = 1 - exp(-(x/lambda)^2)
    return 0.5 * pa + 0.5 * pb


def eqs(x):
    s, f = math.exp(x[0]), math.exp(x[1])
    return [cover(s, f, 1) - P[0], cover(s, f, 2) - P[1]]


x = fsolve(eqs, [0.0, math.log(0.1)], xtol=1e-14)
s, f = math.exp(x[0]), math.exp(x[1])
print(f"coverage fit, both levels met: scale = {s:.10f}, floor = {f:.10f}  (residual of the equations {max(map(abs, eqs(x))):.1e})")
# maximum likelihood: s^2 a^2 + f^2 = 2 beta^2, s^2 b^2 + f^2 = lambda^2
s2 = (LAM ** 2 - 2 * BETA ** 2) / (B_RAW ** 2 - A_RAW ** 2)
f2 = 2 * BETA ** 2 - s2 * A_RAW ** 2
sm, fm = math.sqrt(s2), math.sqrt(f2)
print(f"likelihood fit: scale = {sm:.10f}, floor = {fm:.10f}; its coverage: 1 sigma {cover(sm, fm, 1):.6f}, "
      f"2 sigma {cover(sm, fm, 2):.6f}")

# one raw sigma, Laplace-tailed residuals: the compromise
def loss(x):
    return ((1 - math.exp(-x) - P[0]) / 0.03) ** 2 + ((1 - math.exp(-2 * x) - P[1]) / 0.02) ** 2


m = minimize_scalar(loss, bounds=(0.5, 3), method='bounded', options={'xatol': 1e-12})
x = m.x
print(f"Laplace, one raw sigma: sigma / beta = {x:.10f}; coverage 1 sigma {1 - math.exp(-x):.6f}, "
      f"2 sigma {1 - math.exp(-2 * x):.6f}")

# --- the prediction-dependent factor (rrl_sigma_calibration::fit's feh_bins) -----------------------------------
# A population drawn by SplitMix64 (seeded; the test draws the same numbers): for each star four uniforms
# u = (x >> 11) 2^-53 of successive outputs, prediction = -2.6 + 2.6 u1, sigma_raw = RAW0 + RAW1 u2 (or RAW0 alone),
# true sigma = sigma_raw (1 + AMP (prediction + 1.3)^2) (AMP 2 here, 1 in the test's recovery population, whose
# check is against that truth and needs no numbers from here), residual = true sigma x Box-Muller's
# sqrt(-2 ln(1 - u3)) cos(2 pi u4). With one raw sigma for all stars the calibrated sigma of a range of the
# prediction does not depend on the (scale, floor) fit: sqrt(mean r^2) of its stars (likelihood), or the
# minimiser of the coverage loss over its |r| (coverage: constant between the breakpoints |r| and |r| / 2, so
# its minimum is found exactly by trying every breakpoint; ties go to the likelihood sigma when it is a
# minimiser, else to the minimising interval nearest to it in ln sigma). The range edges are NumPy's quantiles
# of the predictions at 1/5 ... 4/5.
import numpy as np

M64 = (1 << 64) - 1


def splitmix_uniforms(seed, n):
    out, s = [], seed & M64
    for _ in range(n):
        s = (s + 0x9e3779b97f4a7c15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        z ^= z >> 31
        out.append((z >> 11) * 2.0 ** -53)
    return np.array(out)


def feh_population(seed, n, raw0, raw1, amp=2.0):
    u = splitmix_uniforms(seed, 4 * n).reshape(n, 4)
    pred = -2.6 + 2.6 * u[:, 0]
    raw = raw0 + raw1 * u[:, 1]
    true = raw * (1 + amp * (pred + 1.3) ** 2)
    r = true * np.sqrt(-2 * np.log(1 - u[:, 2])) * np.cos(2 * np.pi * u[:, 3])
    return pred, raw, true, r


def coverage_loss(a, s):
    n = len(a)
    c1, c2 = np.count_nonzero(a <= s) / n, np.count_nonzero(a <= 2 * s) / n
    return ((c1 - P[0]) / 0.03) ** 2 + ((c2 - P[1]) / 0.02) ** 2


K = 5
pred, raw, true, r = feh_population(20261207, 6000, 0.3, 0.0)
edges = np.quantile(pred, np.arange(1, K) / K)
print("feh ranges, one raw sigma (seed 20261207, 6000 stars): edges " + ", ".join(f"{e:.12f}" for e in edges))
lo = np.r_[-np.inf, edges]
hi = np.r_[edges, np.inf]
for k in range(K):
    a = np.abs(r[(pred >= lo[k]) & (pred < hi[k])])
    ml = math.sqrt(np.mean(a * a))
    c = np.unique(np.r_[a[a > 0], a[a > 0] / 2])
    losses = np.array([coverage_loss(a, x) for x in c[:-1]])
    best = losses.min()
    # the minimising interval [c_j, c_j+1) nearest to ml (distance 0: ml itself)
    cand = []
    for j in np.nonzero(losses <= best + 1e-12)[0]:
        d = 0.0 if c[j] <= ml < c[j + 1] else (math.log(c[j] / ml) if ml < c[j] else math.log(ml / c[j + 1]))
        cand.append((d, c[j], c[j + 1]))
    d, a0, a1 = min(cand)
    print(f"  range {k}: n {len(a)}, likelihood sigma {ml:.12f}; coverage loss minimum {best:.12f} on "
          f"[{a0:.12f}, {a1:.12f}){' (holds the likelihood sigma)' if d == 0 else ''}")
