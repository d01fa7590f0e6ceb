"""Peer of bench_read: the NumPy way to read a Gaia epoch-photometry CSV into per-source G light curves.

pandas is not installed for /usr/bin/python3 here, so the peer is numpy.loadtxt (NumPy >= 1.23 parses in
C) with a structured dtype, then the same work as ferrum: keep band G, drop rejected_by_variability,
mag_err = 1.0857 / flux_over_error, split by source_id, sort each source by time.
Prints one JSON object as its last line.  Usage: read_peer.py FILE
"""
import json
import sys
import time

import numpy as np


def main(path):
    t0 = time.perf_counter()
    with open(path) as f:
        header = f.readline().strip().split(",")
    col = {name: i for i, name in enumerate(header)}
    names = ["source_id", "band", "time", "mag", "flux_over_error", "rejected_by_variability"]
    dtype = [("source_id", "i8"), ("band", "U2"), ("time", "f8"), ("mag", "f8"),
             ("flux_over_error", "f8"), ("rejected_by_variability", "U5")]
    order = sorted(range(len(names)), key=lambda k: col[names[k]])  # loadtxt wants usecols in file order
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[col[names[k]] for k in order],
                      dtype=[dtype[k] for k in order])
    t_parse = time.perf_counter() - t0

    keep = (data["band"] == "G") & (data["rejected_by_variability"] == "false")
    d = data[keep]
    ids = d["source_id"]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # rows of a source are contiguous
    curves = []
    for a, b in zip(starts, np.r_[starts[1:], len(ids)]):
        t = d["time"][a:b]
        o = np.argsort(t, kind="stable")
        curves.append((ids[a], t[o], d["mag"][a:b][o], 1.0857362047581294 / d["flux_over_error"][a:b][o]))
    total = time.perf_counter() - t0
    print(json.dumps({"peer": "numpy.loadtxt + split", "numpy": np.__version__, "rows": int(len(data)),
                      "sources": len(curves), "points": int(sum(len(c[1]) for c in curves)),
                      "parse_s": t_parse, "total_s": total}))


if __name__ == "__main__":
    main(sys.argv[1])
