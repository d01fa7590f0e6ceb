#!/usr/bin/env python3
"""Coverage of a model's sigma on a labelled set, overall and per quintile of the PREDICTION (conditional
coverage): docs/rrlyrae.md, "Uncertainties that mean what they say" (tools/measure_calibration_feh.sh).

  calibration_quintiles.py LABELS PRED [--label-column feh_true] [--tag TEXT] [--json OUT]

LABELS: the set's labels.csv (source_id, type, the label column, num_epochs); PRED: ferrum-rrl predict's output
(source_id, type, feh, feh_sigma). Per type: n, RMSE, 1 and 2 sigma coverage of all stars and of those with
>= 50 epochs, and per quintile of the prediction (edges: NumPy's quantiles of this set's predictions) the RMS
residual, the median sigma and the 1 and 2 sigma coverage. Prints one line per type; numpy only.
"""
import argparse, csv, json, sys
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('labels')
    ap.add_argument('pred')
    ap.add_argument('--label-column', default='feh_true')
    ap.add_argument('--tag', default='')
    ap.add_argument('--json')
    a = ap.parse_args()
    lab = {}
    with open(a.labels) as f:
        for r in csv.DictReader(f):
            lab[r['source_id']] = (float(r[a.label_column]), int(r.get('num_epochs') or 0))
    rows = {}
    with open(a.pred) as f:
        for r in csv.DictReader(f):
            if not r['feh'] or r['source_id'] not in lab:
                continue
            y, ne = lab[r['source_id']]
            if not np.isfinite(y):
                continue
            rows.setdefault(r['type'], []).append((float(r['feh']), float(r['feh_sigma']), y, ne))
    out = {'tag': a.tag, 'pred': a.pred, 'types': {}}
    for t, v in sorted(rows.items()):
        v = np.array(v)
        p, s, y, ne = v[:, 0], v[:, 1], v[:, 2], v[:, 3]
        r = p - y
        cov = lambda m, k: float(np.mean(np.abs(r[m]) <= k * s[m]))
        allm = np.ones(len(r), bool)
        m50 = ne >= 50
        d = {'n': int(len(r)), 'rmse': float(np.sqrt(np.mean(r * r))), 'c1': cov(allm, 1), 'c2': cov(allm, 2),
             'n50': int(m50.sum()), 'c1_50': cov(m50, 1) if m50.any() else None,
             'c2_50': cov(m50, 2) if m50.any() else None, 'quintiles': []}
        e = np.quantile(p, [0.2, 0.4, 0.6, 0.8])
        q = np.searchsorted(e, p, side='right')
        for k in range(5):
            m = q == k
            d['quintiles'].append({'n': int(m.sum()), 'rms': float(np.sqrt(np.mean(r[m] ** 2))),
                                   'median_sigma': float(np.median(s[m])), 'c1': cov(m, 1), 'c2': cov(m, 2)})
        out['types'][t] = d
        qs = ' '.join(f"{x['c1']:.3f}/{x['c2']:.3f}" for x in d['quintiles'])
        print(f"{a.tag:<34} {t:<4} n {d['n']:5d} rmse {d['rmse']:.3f}  1s {d['c1']:.3f} 2s {d['c2']:.3f}  "
              f"quintiles 1s/2s: {qs}")
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(out, f, indent=1)


if __name__ == '__main__':
    sys.exit(main())
