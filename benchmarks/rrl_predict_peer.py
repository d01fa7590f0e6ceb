"""Peer of bench_rrl_predict: the same prediction path in SciPy + PyTorch on a sample of the stars.

Reads the archive-format epoch photometry and vari_rrlyrae CSVs written by ferrum's simulator, takes an
even sample of `sample` stars, and for each: drops rejected epochs, folds on epoch_g and the period,
fits scipy.interpolate.make_smoothing_spline (GCV), resamples 264 (RRab) / 265 (RRc) phases,
standardises; then runs a torch GRU 20-16-8 + linear head (the paper's network, random weights: throughput
only) in eval mode on the batch. Prints one JSON line with CPU seconds per stage and stars/CPU-second.
Usage: rrl_predict_peer.py EPOCH_CSV VARI_CSV SAMPLE
"""
import csv
import json
import sys
import time

import numpy as np
from scipy.interpolate import make_smoothing_spline
import torch


def main():
    ep_path, vari_path, sample = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(2)
    t0 = time.process_time()
    cat = {}
    with open(vari_path) as f:
        for r in csv.DictReader(f):
            p = float(r["pf"]) if r["best_classification"] == "RRab" else float(r["p1_o"])
            cat[r["source_id"]] = (r["best_classification"], p, float(r["epoch_g"]))
    ids = list(cat.keys())
    step = max(1, len(ids) // sample)
    want = set(ids[::step][:sample])
    curves = {}
    with open(ep_path) as f:
        rd = csv.reader(f)
        h = next(rd)
        ci, ct, cm, cr = h.index("source_id"), h.index("time"), h.index("mag"), h.index("rejected_by_variability")
        for row in rd:
            if row[ci] in want and row[cr] != "true" and row[cr] != "True" and row[cr] != "1":
                curves.setdefault(row[ci], ([], []))
                curves[row[ci]][0].append(float(row[ct]))
                curves[row[ci]][1].append(float(row[cm]))
    t_read = time.process_time() - t0

    t1 = time.process_time()
    seqs = {264: [], 265: []}
    for sid, (t, m) in curves.items():
        typ, P, e = cat[sid]
        t = np.asarray(t)
        m = np.asarray(m)
        ph = np.mod(t - e, P) / P
        o = np.argsort(ph, kind="stable")
        x, y = ph[o], m[o]
        keep = np.concatenate(([True], np.diff(x) > 1e-9))  # make_smoothing_spline needs increasing x
        x, y = x[keep], y[keep]
        n = 264 if typ == "RRab" else 265
        try:
            s = make_smoothing_spline(x, y)
        except Exception:
            continue
        g = np.linspace(0, 1, n)
        r = s(g)
        r = (r - r.mean()) / r.std()
        seqs[n].append(np.stack([g * P, r], axis=1))
    t_prep = time.process_time() - t1

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.g1 = torch.nn.GRU(2, 20, batch_first=True)
            self.g2 = torch.nn.GRU(20, 16, batch_first=True)
            self.g3 = torch.nn.GRU(16, 8, batch_first=True)
            self.d = torch.nn.Dropout(0.2)
            self.out = torch.nn.Linear(8, 1)

        def forward(self, x):
            x, _ = self.g1(x)
            x, _ = self.g2(self.d(x))
            _, h = self.g3(self.d(x))
            return self.out(h[-1])

    torch.manual_seed(0)
    net = Net().eval()
    t2 = time.process_time()
    npred = 0
    with torch.no_grad():
        for n, lst in seqs.items():
            if not lst:
                continue
            xb = torch.tensor(np.stack(lst), dtype=torch.float32)
            for i in range(0, len(xb), 4096):
                npred += len(net(xb[i:i + 4096]))
    t_gru = time.process_time() - t2
    total = t_read + t_prep + t_gru
    print(json.dumps({"stars": len(curves), "predicted": npred, "cpu_s_read": t_read, "cpu_s_preprocess": t_prep,
                      "cpu_s_gru": t_gru, "cpu_s_total": total,
                      "stars_per_cpu_s": len(curves) / total if total > 0 else None,
                      "note": "read time covers scanning the whole epoch file for the sample"}))


if __name__ == "__main__":
    main()
