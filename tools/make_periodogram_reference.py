#!/usr/bin/env python3
"""Writes tests/data/periodogram_astropy.json, the oracle of tests/test_periodogram.cpp: astropy's
LombScargle ('standard' normalisation) on

* astropy's own test data (astropy/timeseries/periodograms/lombscargle/tests/test_lombscargle.py, fixture
  `data`: N=100, t = 20 rng.random(N), y = 10 + 2 sin(2 pi t) + 3 cos(2 pi t) + noise, dy = 0.5 + rng.random(N),
  rng = numpy.random.default_rng(seed)) with errors none / partial (one scalar) / full, center_data and
  fit_mean on and off, nterms 1..3, on the tests' grid 0.8 + 0.01 arange(40), by the exact methods
  ('cython' for nterms 1, 'chi2' above);
* astropy's autofrequency() for several option sets;
* Gaia-like RR Lyrae curves (40-100 irregular epochs over ~1000 d, a 4-harmonic RRab-like series): the
  exact power on the RR Lyrae grid (1-5 per day, 10 samples per peak) at a subset of frequencies and at the
  astropy argmax, for nterms 1 and 3, and false_alarm_probability(method='baluev') at several powers;
  one noise-free curve carries the analytic epoch of maximum light.

Run with the system Python (astropy 5.2, NumPy 1.24):
    /usr/bin/python3 tools/make_periodogram_reference.py [--seed 0] [--out tests/data/periodogram_astropy.json]
"""
import argparse
import json

import astropy
import numpy as np
from astropy.timeseries import LombScargle


def astropy_test_data(rng, N=100, period=1, theta=(10, 2, 3), dy=1):
    t = 20 * period * rng.random(N)
    omega = 2 * np.pi / period
    y = theta[0] + theta[1] * np.sin(omega * t) + theta[2] * np.cos(omega * t)
    dy = dy * (0.5 + rng.random(N))
    y += dy * rng.standard_normal(N)
    return t, y, dy


def rrab_series(phi, amp):
    """An RRab-like cosine series m(phi) = A0 + sum A_k cos(2 pi k phi + phi_k) (Gaia convention)."""
    A = amp * np.array([1.0, 0.48, 0.33, 0.22])
    ph = np.array([0.0, 2.9, 5.9, 2.6])  # phi21 ~ 2.9, phi31 ~ 5.9 in the cosine convention, as RRab
    m = np.zeros_like(phi)
    for k in range(4):
        m += A[k] * np.cos(2 * np.pi * (k + 1) * phi + ph[k])
    return m, A, ph


def series_minimum_phase(A, ph):
    grid = np.linspace(0, 1, 200001)
    m = sum(A[k] * np.cos(2 * np.pi * (k + 1) * grid + ph[k]) for k in range(len(A)))
    return float(grid[np.argmin(m)])


def rrlyrae_case(rng, name, noise=True):
    n = int(rng.integers(40, 101))
    # Gaia-like: clumps of transits (field-of-view pairs 106 min apart) scattered over ~1000 days.
    n_visits = (n + 1) // 2
    visits = np.sort(rng.uniform(0, 1000, n_visits))
    t = np.concatenate([visits, visits + 106.5 / 1440])[:n] + 1700.0
    t.sort()
    P = float(rng.uniform(0.45, 0.75))
    amp = float(rng.uniform(0.25, 0.45))
    epoch_true = float(t[0] + rng.uniform(0, P))
    phi = (t - epoch_true) / P
    m, A, ph = rrab_series(phi, amp)
    dy = rng.uniform(0.01, 0.03, n)
    y = 16.0 + m + (dy * rng.standard_normal(n) if noise else 0.0)
    # Epoch of maximum light: the first minimum of m at or after t[0].
    phi_min = series_minimum_phase(A, ph)
    e = epoch_true + phi_min * P
    e -= np.floor((e - t[0]) / P) * P
    case = dict(name=name, t=t.tolist(), y=y.tolist(), dy=dy.tolist(), period_true=P, epoch_max_true=float(e),
                noise=bool(noise))
    fmin, fmax, spp = 1.0, 5.0, 10
    for nterms in (1, 3):
        ls = LombScargle(t, y, dy, nterms=nterms)
        freq = ls.autofrequency(samples_per_peak=spp, minimum_frequency=fmin, maximum_frequency=fmax)
        method = "cython" if nterms == 1 else "fastchi2"
        kw = {} if nterms == 1 else dict(method_kwds=dict(use_fft=False))
        power = ls.power(freq, method=method, **kw)
        j = int(np.argmax(power))
        idx = sorted(set(np.linspace(0, len(freq) - 1, 150).astype(int).tolist()) | set(range(max(0, j - 3), min(len(freq), j + 4))))
        entry = dict(f0=float(freq[0]), df=float(freq[1] - freq[0]), n=int(len(freq)), argmax=j,
                     best_frequency=float(freq[j]), best_power=float(power[j]),
                     index=idx, power=[float(power[i]) for i in idx])
        if nterms == 1:
            z = [0.05, 0.2, 0.4, float(power[j])]
            entry["fap_z"] = z
            entry["fap_baluev"] = [float(v) for v in ls.false_alarm_probability(
                z, method="baluev", minimum_frequency=fmin, maximum_frequency=fmax, samples_per_peak=spp)]
            entry["fap_fmax"] = float(freq[-1])
        case[f"nterms{nterms}"] = entry
    return case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="0 reproduces astropy's own test data")
    ap.add_argument("--out", default="tests/data/periodogram_astropy.json")
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    t, y, dy = astropy_test_data(rng)
    frequency = 0.8 + 0.01 * np.arange(40)
    powers = []
    for errors in ("none", "partial", "full"):
        d = None if errors == "none" else (dy[0] if errors == "partial" else dy)
        for center_data in (True, False):
            for fit_mean in (True, False):
                for nterms in (1, 2, 3):
                    ls = LombScargle(t, y, d, center_data=center_data, fit_mean=fit_mean, nterms=nterms)
                    method = "cython" if nterms == 1 else "chi2"
                    p = ls.power(frequency, method=method)
                    powers.append(dict(errors=errors, center_data=center_data, fit_mean=fit_mean, nterms=nterms,
                                       power=p.tolist()))
    auto = []
    for spp in (1, 5):
        for nyq in (1, 10):
            for fmin in (None, 1.0):
                for fmax in (None, 5.0):
                    f = LombScargle(t, y, dy).autofrequency(spp, nyq, fmin, fmax)
                    auto.append(dict(samples_per_peak=spp, nyquist_factor=nyq, minimum_frequency=fmin,
                                     maximum_frequency=fmax, f0=float(f[0]), df=float(f[1] - f[0]), n=int(len(f))))
    # The whole autofrequency grid (spp 5, nyquist 5) by the exact method: the fast path's full-grid check.
    ls = LombScargle(t, y, dy)
    fa = ls.autofrequency()
    full = dict(f0=float(fa[0]), df=float(fa[1] - fa[0]), n=int(len(fa)), power=ls.power(fa, method="cython").tolist())

    rr_rng = np.random.default_rng(a.seed + 1000)
    rrlyrae = [rrlyrae_case(rr_rng, f"rrab{i}") for i in range(4)] + [rrlyrae_case(rr_rng, "rrab_noise_free", False)]

    out = dict(generator="tools/make_periodogram_reference.py", seed=a.seed, astropy=astropy.__version__,
               numpy=np.__version__, frequency=frequency.tolist(),
               data=dict(t=t.tolist(), y=y.tolist(), dy=dy.tolist()), power=powers, autofrequency=auto,
               full_grid=full, rrlyrae=rrlyrae)
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
