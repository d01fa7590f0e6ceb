#!/usr/bin/env python3
"""Reproduce Dekany & Grebel (2022)'s published BiLSTM predictions with their own weights, converted by
tools/convert_keras.py and run by ferrum (driven by tools/check_dekany_import.sh; docs/nn.md, "Importing Keras and
PyTorch models").

Ks band (complete): their Table 5 ([Fe/H]_K and its error, 3 decimals) for the 4,447 inner-bulge RRab of
inner_bulge_new_rrab.dat, predicted by the results_k ensemble from lc_target_k (kfeh.par: epochs with phase < 1.2,
binned into 60 phase bins of [0, 1.2] by their mean phase and mean magnitude, empty bins dropped, magnitudes minus
their mean, time = phase x period from inner_bulge_new_rrab.dat, padded with -1 to 60 steps); the ensemble mean
and the standard deviation of the 10 members.

G band (what can be done):
Their inputs (rrlfeh_nn_utils.read_time_series_for_rnn, nmags = 80, no binning): for each star the lc_dev_g/<id>_bin.dat
epochs with phase < 1, magnitudes minus their mean (over all those epochs), time = phase x period, the first 80
epochs kept, padded with -1 after the last one (the model masks steps where both channels are -1).

What is missing: the periods. They are in o4rrab_gaiaDR2_bp_rp_i_g_param.dat, which the repository's snapshot does
not hold (a large file left out), and the light curves are already phase-folded. The published files
predict_train_*/predict_val_* hold, for each of the 4,458 development stars, the prediction of every one of the 10
fold models (the model of the star's validation fold in predict_val, the other 9 in predict_train). So the period is
recovered from ONE published number per star: the root in [0.28, 0.98] d (their subset) of
member_f(P) = published_f, f the star's validation fold (when that function has several roots, the one that also
fits member f+1 is taken). The other 8 members' published predictions are then a test of the import that the period
fit has not seen, and so is the 10-model ensemble mean.

usage (steps, run by check_dekany_import.sh):
  check_dekany_import.py prepare-g WORKDIR  # needs WORKDIR/{model.json,weights_*.h5,predict_*.dat,lc_dev_g/}
  check_dekany_import.py compare-g WORKDIR  # reads WORKDIR/ferrum_members{,_f64}.txt written by the ferrum runs
  check_dekany_import.py prepare-k WORKDIR  # needs WORKDIR/{model.json,weights_*.h5,table5.dat,
                                            #   inner_bulge_new_rrab.dat,lc_target_k/}
  check_dekany_import.py compare-k WORKDIR
"""
import glob, json, os, shlex, sys

import numpy as np

N_STEPS, MASK = 80, -1.0


def read_published(work):
    """{star id: {fold: prediction}} and {id: true [Fe/H]} from the predict_train/val files."""
    preds, truth, val_fold = {}, {}, {}
    for kind in ("train", "val"):
        path = glob.glob(os.path.join(work, f"predict_{kind}*.dat"))[0]
        for line in open(path):
            sid, fold, true, pred = line.split()
            preds.setdefault(sid, {})[int(fold)] = float(pred)
            truth[sid] = float(true)
            if kind == "val":
                val_fold[sid] = int(fold)
    return preds, truth, val_fold


def star_inputs(work, sid):
    """(phases, centred magnitudes) as their code builds them, before the period and the padding."""
    pp, mm = np.genfromtxt(os.path.join(work, "lc_dev_g", sid + "_bin.dat"), unpack=True, comments="#")
    keep = pp < 1.0
    pp, mm = pp[keep], mm[keep]
    mm = mm - mm.mean()
    return pp[:N_STEPS], mm[:N_STEPS]


def batch(stars, periods):
    x = np.full((len(stars), N_STEPS, 2), MASK)
    lengths = []
    for b, ((pp, mm), P) in enumerate(zip(stars, periods)):
        n = len(pp)
        x[b, :n, 0] = pp * P
        x[b, :n, 1] = mm
        lengths.append(n)
    return x, lengths


def write_inputs(work, x, lengths):
    """The inputs of the ferrum run (tools/dekany_predict.cpp), one star per line: n, then n x (time, mag)."""
    with open(os.path.join(work, "inputs.txt"), "w") as out:
        for b, n in enumerate(lengths):
            out.write(f"{n} " + " ".join(f"{v:.17g}" for v in x[b, :n].ravel()) + "\n")


def prepare(work):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    import convert_keras as ck
    torch.set_num_threads(2)
    preds, truth, val_fold = read_published(work)
    ids = sorted(s for s in preds if len(preds[s]) == 10 and s in val_fold)
    stars = [star_inputs(work, s) for s in ids]
    mj = json.load(open(os.path.join(work, "model.json")))
    layers, _, _, _ = ck.plan(mj)
    files = [os.path.join(work, f"weights_{k}.h5") for k in range(10)]
    members = [ck.torch_member(layers, ck.member_parameters(layers, ck.read_keras_h5(f), f)) for f in files]

    def run(k, idx, periods):
        x, lengths = batch([stars[i] for i in idx], periods)
        return members[k](x, lengths)[:, 0]

    grid = np.linspace(0.28, 0.98, 36)
    periods = np.full(len(ids), np.nan)
    n_roots = np.zeros(len(ids), dtype=int)
    for f in range(10):
        idx = [i for i, s in enumerate(ids) if val_fold[s] == f]
        g = (f + 1) % 10
        target = np.array([preds[ids[i]][f] for i in idx])
        target2 = np.array([preds[ids[i]][g] for i in idx])
        vals = np.stack([run(f, idx, np.full(len(idx), P)) for P in grid], axis=1) - target[:, None]
        cands = []  # (row j, lo, hi): every sign change of member_f(P) - published_f on the grid
        for j in range(len(idx)):
            for a in np.nonzero(np.sign(vals[j, :-1]) * np.sign(vals[j, 1:]) <= 0)[0]:
                cands.append((j, grid[a], grid[a + 1]))
        if not cands:
            continue
        rows = np.array([c[0] for c in cands])
        lo, hi = np.array([c[1] for c in cands]), np.array([c[2] for c in cands])
        cidx = [idx[j] for j in rows]
        flo = run(f, cidx, lo) - target[rows]
        for _ in range(26):  # bisection, all candidates at once
            mid = 0.5 * (lo + hi)
            fm = run(f, cidx, mid) - target[rows]
            same = np.sign(fm) == np.sign(flo)
            lo, flo, hi = np.where(same, mid, lo), np.where(same, fm, flo), np.where(same, hi, mid)
        P = 0.5 * (lo + hi)
        e2 = np.abs(run(g, cidx, P) - target2[rows])  # member f+1 picks among several roots
        for j in range(len(idx)):
            mine = np.nonzero(rows == j)[0]
            n_roots[idx[j]] = len(mine)
            if len(mine):
                periods[idx[j]] = P[mine[np.argmin(e2[mine])]]
        print(f"fold {f}: {len(idx)} stars, periods recovered for {np.isfinite(periods[idx]).sum()}", file=sys.stderr)
    ok = np.isfinite(periods)
    x, lengths = batch([stars[i] for i in np.nonzero(ok)[0]], periods[ok])
    kept = [s for s, k in zip(ids, ok) if k]
    # PyTorch float64 predictions of every member on the same inputs (a second, independent run of the weights)
    torch_members = np.stack([m(x, lengths)[:, 0] for m in members], axis=1)
    np.save(os.path.join(work, "inputs.npy"), x.astype(np.float64))
    json.dump({"ids": kept, "lengths": lengths, "periods": periods[ok].tolist(),
               "n_without_root": int((~ok).sum()), "n_several_roots": int((n_roots[ok] > 1).sum()),
               "val_fold": [val_fold[s] for s in kept], "torch_members": torch_members.tolist()},
              open(os.path.join(work, "prepared.json"), "w"))
    write_inputs(work, x, lengths)
    print(f"{len(kept)} of {len(ids)} stars have a period; inputs written", file=sys.stderr)


def compare(work):
    preds, truth, _ = read_published(work)
    prep = json.load(open(os.path.join(work, "prepared.json")))
    ids, vf = prep["ids"], np.array(prep["val_fold"])
    got = np.loadtxt(os.path.join(work, "ferrum_members.txt"), ndmin=2)  # (stars, 10 members), ferrum float32
    got64 = np.loadtxt(os.path.join(work, "ferrum_members_f64.txt"), ndmin=2)
    pub = np.array([[preds[s][k] for k in range(10)] for s in ids])
    torch64 = np.array(prep["torch_members"])
    rows = np.arange(len(ids))
    held = np.ones_like(pub, dtype=bool)  # the 8 members the period fit did not use
    held[rows, vf] = False
    held[rows, (vf + 1) % 10] = False
    # the period is confirmed when member f+1 (which only chose among roots) also agrees to 1e-4 dex
    confirmed = np.abs(got[rows, (vf + 1) % 10] - pub[rows, (vf + 1) % 10]) <= 1e-4

    def stats(d):
        d = np.asarray(d)
        return (f"max {np.abs(d).max():.1e}, RMS {np.sqrt(np.mean(d ** 2)):.1e}, "
                f"median |d| {np.median(np.abs(d)):.1e}  ({d.size} values)")
    n_no = prep["n_without_root"]
    print(f"Dekany & Grebel (2022) G-band BiLSTM 10-fold ensemble: {len(ids)} development stars with a period "
          f"({n_no} star(s) without a root; {prep['n_several_roots']} with several roots)")
    print(f"  ferrum float64 vs PyTorch float64, same inputs, every member:   {stats(got64 - torch64)}")
    print(f"  ferrum float32 vs ferrum float64:                                {stats(got - got64)}")
    print(f"  published vs ferrum float32, the member that fixed the period:   {stats(got[rows, vf] - pub[rows, vf])}")
    c, h = confirmed[:, None] & held, held
    print(f"  period confirmed by member f+1: {int(confirmed.sum())} stars; not confirmed: {int((~confirmed).sum())}")
    print(f"  published vs ferrum float32, the 8 unseen members, confirmed stars: {stats((got - pub)[c])}")
    print(f"  published vs ferrum float32, ensemble mean, confirmed stars:        "
          f"{stats((got.mean(1) - pub.mean(1))[confirmed])}")
    print(f"  published vs ferrum float32, the 8 unseen members, all stars:       {stats((got - pub)[h])}")
    worst = np.where(held, np.abs(got - pub), 0).max(axis=1)
    for t in (3e-6, 1e-5, 1e-3):
        print(f"  stars whose 8 unseen members all agree within {t:g} dex: {int((worst <= t).sum())} of {len(ids)}")
    ok = np.abs(got64 - torch64).max() < 1e-9 and np.abs((got - pub)[c]).max() < 1e-4
    print("check_dekany_import (G):", "reproduced" if ok else "NOT reproduced")
    sys.exit(0 if ok else 1)


def prepare_k(work):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    from scipy.stats import binned_statistic
    import convert_keras as ck
    torch.set_num_threads(2)
    n_bins, max_phase = 60, 1.2
    edges = np.linspace(0.0, max_phase, n_bins + 1)
    names, lengths, xs = [], [], []
    for line in open(os.path.join(work, "inner_bulge_new_rrab.dat")):
        if line.startswith("#") or not line.strip():
            continue
        r = shlex.split(line)  # id Name RA DEC period ... (quoted empty cross-ids)
        sid, name, period = r[0], r[1], float(r[4])
        if not 0.28 < period < 0.98:  # their --subset
            continue
        pp, mm = np.genfromtxt(os.path.join(work, "lc_target_k", sid + "_bin.dat"), unpack=True, comments="#")
        keep = pp < max_phase
        pp, mm = pp[keep], mm[keep]
        yb = binned_statistic(pp, mm, statistic="mean", bins=edges).statistic
        xb = binned_statistic(pp, pp, statistic="mean", bins=edges).statistic
        ok = ~np.isnan(yb)
        pp, mm = xb[ok], yb[ok]
        mm = mm - mm.mean()
        n = min(n_bins, len(pp))
        x = np.full((n_bins, 2), MASK)
        x[:n, 0], x[:n, 1] = (pp * period)[:n], mm[:n]
        names.append(name)
        lengths.append(n)
        xs.append(x)
    x = np.array(xs)
    mj = json.load(open(os.path.join(work, "model.json")))
    layers, _, _, _ = ck.plan(mj)
    torch_members = np.stack([ck.torch_member(layers, ck.member_parameters(layers, ck.read_keras_h5(f), f))(x, lengths)[:, 0]
                              for f in (os.path.join(work, f"weights_{k}.h5") for k in range(10))], axis=1)
    json.dump({"names": names, "lengths": lengths, "torch_members": torch_members.tolist()},
              open(os.path.join(work, "prepared.json"), "w"))
    write_inputs(work, x, lengths)
    print(f"{len(names)} Ks target stars; inputs written", file=sys.stderr)


def compare_k(work):
    prep = json.load(open(os.path.join(work, "prepared.json")))
    t5 = {}
    for line in open(os.path.join(work, "table5.dat")):
        if not line.startswith("#") and line.strip():
            f = line.split()
            t5[f[0]] = (float(f[3]), float(f[4]))  # ID ... [Fe/H]_K [Fe/H]_K_e
    got = np.loadtxt(os.path.join(work, "ferrum_members.txt"), ndmin=2)
    got64 = np.loadtxt(os.path.join(work, "ferrum_members_f64.txt"), ndmin=2)
    torch64 = np.array(prep["torch_members"])
    have = np.array([n in t5 for n in prep["names"]])
    pub = np.array([t5[n] for n, h in zip(prep["names"], have) if h])
    mean, sd = got.mean(axis=1)[have], got.std(axis=1)[have]

    def stats(d):
        return f"max {np.abs(d).max():.1e}, RMS {np.sqrt(np.mean(d ** 2)):.1e}, median |d| {np.median(np.abs(d)):.1e}"
    print(f"Dekany & Grebel (2022) Ks-band BiLSTM 10-fold ensemble on their Table 5: {int(have.sum())} of "
          f"{len(have)} inner-bulge RRab in the table (Table 5 prints 3 decimals: rounding alone is up to 5e-4)")
    print(f"  ferrum float64 vs PyTorch float64, every member:      {stats(got64 - torch64)}")
    print(f"  ferrum float32 vs ferrum float64, every member:       {stats(got - got64)}")
    print(f"  Table 5 [Fe/H]_K vs ferrum float32 ensemble mean:     {stats(mean - pub[:, 0])}")
    print(f"  Table 5 [Fe/H]_K_e vs ferrum float32 members' std:    {stats(sd - pub[:, 1])}")
    ok = (np.abs(got64 - torch64).max() < 1e-9 and np.abs(mean - pub[:, 0]).max() <= 5.01e-4
          and np.abs(sd - pub[:, 1]).max() <= 5.01e-4)
    print("check_dekany_import (Ks):", "reproduced" if ok else "NOT reproduced")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    steps = {"prepare-g": prepare, "compare-g": compare, "prepare-k": prepare_k, "compare-k": compare_k}
    if len(sys.argv) != 3 or sys.argv[1] not in steps:
        sys.exit(__doc__)
    steps[sys.argv[1]](sys.argv[2])
