#!/usr/bin/env python3
"""Scores a `simulate --family field` set (docs/rrlyrae.md, "A population we did not simulate").

  field_family_metrics.py SET_DIR TABLE [--pred pred.csv] [--classical classical.csv] [--json out.json]

SET_DIR holds labels.csv, parents.csv and epoch_photometry.csv of the set; TABLE is the real-star table
(rrl_params_lamost.csv). Against feh_true (each parent star's LAMOST [Fe/H]) it reports, for all stars and
for those with >= 50 clean epochs:
  * the model (predict's feh, feh_sigma): RMSE, bias, R^2, 1 and 2 sigma coverage, median sigma;
  * the classical pipeline (ferrum-rrl classical: Fourier fit -> phi31, A2 -> Muraveva et al. 2025);
  * the LAMOST relation (relations/spectroscopic.hpp) on this script's own order-4 weighted Fourier fit of
    the clean epochs at the true period (the classical pipeline on the spectroscopic scale);
  * the catalogue-style label `feh` (Muraveva et al. 2025 on the simulator's own catalogue fit);
  * shape-only floors: the LAMOST relation and the Muraveva relation on the parents' catalogue parameters and
    on the simulated stars' true (jittered) parameters, and the LAMOST-form relation refitted (maximum
    likelihood with the LAMOST errors, the Gaia errors of the features and an intrinsic scatter, as
    ferrum-relations fit does) on the other half of the table only (half b), i.e. without the drawn stars.
numpy and scipy only. The half of a source_id is SplitMix64(source_id) & 1 (0: a), as in sim/rrlyrae_field.hpp.
"""
import argparse, csv, json, math, sys
import numpy as np
from scipy.optimize import minimize

LAMOST = np.array([-0.09926279753880002, -3.52434574943827, 0.42159771793914613, -3.1063177314447263,
                   3.828192432419578])  # relations/spectroscopic.hpp: intercept, P, phi31, A1, A2


def muraveva_ab(p, phi31):  # relations/classical.hpp: Muraveva et al. (2025), RRab
    return -0.37 - 5.55 * p + 0.94 * phi31


def half_of(sid):
    m = (1 << 64) - 1
    z = (sid + 0x9e3779b97f4a7c15) & m
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & m
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & m
    z ^= z >> 31
    return 'b' if z & 1 else 'a'


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def fit_lamost_form(rows):
    """Maximum likelihood of FeH = c0 + c1 P + c2 phi31 + c3 A1 + c4 A2 with var = s^2 + e_y^2 + sum c_k^2 e_k^2."""
    X = np.array([[1.0, float(r['pf']), float(r['phi31_g']), float(r['A1']), float(r['A2'])] for r in rows])
    Ex = np.array([[float(r['pf_error']), float(r['phi31_g_error']), float(r['A1_error']), float(r['A2_error'])]
                   for r in rows])
    y = np.array([float(r['FeH']) for r in rows])
    ey = np.array([float(r['FeH_err']) for r in rows])

    def nll(p):
        c, s = p[:5], math.exp(p[5])
        v = s * s + ey ** 2 + (Ex ** 2) @ (c[1:] ** 2)
        r = y - X @ c
        return 0.5 * np.sum(r * r / v + np.log(v))
    c0 = np.linalg.lstsq(X, y, rcond=None)[0]
    res = minimize(nll, np.r_[c0, math.log(0.3)], method='BFGS', options={'gtol': 1e-8, 'maxiter': 5000})
    res = minimize(nll, res.x, method='Nelder-Mead',
                   options={'xatol': 1e-10, 'fatol': 1e-12, 'maxiter': 40000, 'maxfev': 40000})
    return res.x[:5], math.exp(res.x[5])


def lamost_form(c, p, phi31, a1, a2):
    return c[0] + c[1] * p + c[2] * phi31 + c[3] * a1 + c[4] * a2


def fourier_fit(t, m, e, period, order=4):
    ph = 2 * np.pi * t / period
    cols = [np.ones_like(ph)]
    for k in range(1, order + 1):
        cols += [np.cos(k * ph), np.sin(k * ph)]
    A = np.column_stack(cols) / e[:, None]
    b = m / e
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    amp = [math.hypot(x[2 * k - 1], x[2 * k]) for k in range(1, order + 1)]
    # m = A0 + sum A_k cos(k theta + phi_k): a cos + b sin = A cos(theta + phi) with phi = atan2(-b, a)
    phase = [math.atan2(-x[2 * k], x[2 * k - 1]) for k in range(1, order + 1)]
    phi31 = (phase[2] - 3 * phase[0]) % (2 * np.pi)
    return amp, phi31


def scores(pred, truth, sigma=None):
    pred, truth = np.asarray(pred), np.asarray(truth)
    r = pred - truth
    out = {'n': int(len(r)), 'rmse': float(np.sqrt(np.mean(r * r))), 'bias': float(np.mean(r)),
           'r2': float(1 - np.sum(r * r) / np.sum((truth - truth.mean()) ** 2))}
    if sigma is not None:
        s = np.asarray(sigma)
        out.update({'coverage_1sigma': float(np.mean(np.abs(r) <= s)),
                    'coverage_2sigma': float(np.mean(np.abs(r) <= 2 * s)), 'median_sigma': float(np.median(s))})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('set_dir')
    ap.add_argument('table')
    ap.add_argument('--pred')
    ap.add_argument('--classical')
    ap.add_argument('--json')
    a = ap.parse_args()

    table = read(a.table)
    by_id = {int(r['source_id']): r for r in table}
    c_b, s_b = fit_lamost_form([r for r in table if half_of(int(r['source_id'])) == 'b'])
    c_all, s_all = fit_lamost_form(table)

    labels = {int(r['source_id']): r for r in read(a.set_dir + '/labels.csv')}
    parents = {int(r['source_id']): r for r in read(a.set_dir + '/parents.csv')}
    ids = sorted(labels)
    # clean epochs per star, and our own Fourier fit
    epochs = {}
    with open(a.set_dir + '/epoch_photometry.csv') as f:
        for r in csv.DictReader(f):
            if r['rejected_by_variability'].lower() == 'true':
                continue
            sid = int(r['source_id'])
            foe = float(r['flux_over_error'])
            epochs.setdefault(sid, []).append((float(r['time']), float(r['mag']), 1.0857362047581294 / foe))
    pred = {int(r['source_id']): r for r in read(a.pred)} if a.pred else {}
    clas = {int(r['source_id']): r for r in read(a.classical)} if a.classical else {}

    rows = []
    for sid in ids:
        lb, pa = labels[sid], parents[sid]
        par = by_id[int(pa['parent_source_id'])]
        P = float(lb['period'])
        e = np.array(epochs[sid])
        amp, phi31_fit = fourier_fit(e[:, 0], e[:, 1], e[:, 2], P)
        row = {
            'truth': float(lb['feh_true']), 'n_clean': len(e),
            'half': half_of(int(pa['parent_source_id'])),
            'lamost_fit': lamost_form(LAMOST, P, phi31_fit, amp[0], amp[1]),
            'lamost_true': lamost_form(LAMOST, P, float(lb['phi31_true']), float(pa['a1_true']), float(lb['a2_true'])),
            'lamost_parent': lamost_form(LAMOST, float(par['pf']), float(par['phi31_g']), float(par['A1']),
                                         float(par['A2'])),
            'halfb_true': lamost_form(c_b, P, float(lb['phi31_true']), float(pa['a1_true']), float(lb['a2_true'])),
            'halfb_parent': lamost_form(c_b, float(par['pf']), float(par['phi31_g']), float(par['A1']),
                                        float(par['A2'])),
            'muraveva_true': muraveva_ab(P, float(lb['phi31_true'])),
            'muraveva_parent': muraveva_ab(float(par['pf']), float(par['phi31_g'])),
            'catalogue_label': float(lb['feh']),
        }
        p = pred.get(sid)
        # a prediction with a warning (outside_training_domain: ...) is still a prediction
        if p and p['feh'] != '' and (p.get('flag', '') == '' or p['flag'].startswith('outside_training_domain')):
            row['model'], row['model_sigma'] = float(p['feh']), float(p['feh_sigma'])
        c = clas.get(sid)
        if c and c['feh'] != '' and (c.get('flag', '') == '' or c['flag'].startswith('outside_training_domain')):
            row['classical'], row['classical_sigma'] = float(c['feh']), float(c['feh_sigma'])
        rows.append(row)

    report = {'relation_all': {'coefficients': list(c_all), 'sigma_int': s_all},
              'relation_half_b': {'coefficients': list(c_b), 'sigma_int': s_b}}
    for name, keep in [('all', lambda r: True), ('n_clean_ge_50', lambda r: r['n_clean'] >= 50)]:
        sub = [r for r in rows if keep(r)]
        both = [r for r in sub if 'model' in r and 'classical' in r]
        rep = {'stars': len(sub), 'scored_both': len(both)}
        t = [r['truth'] for r in both]
        rep['model'] = scores([r['model'] for r in both], t, [r['model_sigma'] for r in both]) if both else None
        rep['classical_muraveva'] = scores([r['classical'] for r in both], t,
                                           [r['classical_sigma'] for r in both]) if both else None
        for k in ['lamost_fit', 'lamost_true', 'lamost_parent', 'halfb_true', 'halfb_parent', 'muraveva_true',
                  'muraveva_parent', 'catalogue_label']:
            rep[k] = scores([r[k] for r in both], t) if both else None
        report[name] = rep
    s = json.dumps(report, indent=1)
    if a.json:
        with open(a.json, 'w') as f:
            f.write(s)
    print(s)


if __name__ == '__main__':
    main()
