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
