#!/usr/bin/env python3
"""Convert a trained PyTorch (or Keras) GRU regressor into a ferrum model file (docs/nn.md).

The network is a stack of torch.nn.GRU modules (batch_first, any num_layers) followed by torch.nn.Linear
layers -- the shape of the Monti et al. (2025) metallicity regressor. Weights keep PyTorch's names and
shapes (weight_ih_l0 [3H, in] in r, z, n order, ...). The script runs the network in PyTorch (float64,
eval mode) on seeded inputs with several sequence lengths and embeds the outputs as test vectors, which
ferrum::nn::load_model(path, verify=true) re-checks.

usage:
  export_pytorch.py STATE_DICT.pt OUT.json [--dropout 0.2,0.2,0.1] [--activations linear]
                    [--preprocessing prep.json] [--steps 32]
  export_pytorch.py --keras-npz WEIGHTS.npz OUT.json [...]   # np.savez(path, *keras_model.get_weights())
  export_pytorch.py --demo OUT.json                          # random GRU 2->20->16->8 + Linear(8,1)
  export_pytorch.py --self-test                              # checks the Keras conversion numerically
"""
import argparse, json, os, sys, tempfile

import numpy as np
import torch


def keras_gru_to_torch(kernel, recurrent_kernel, bias):
    """Keras GRU(reset_after=True) weights -> PyTorch GRU tensors.
    Keras: kernel (in, 3H) and recurrent_kernel (H, 3H) with gate blocks in z, r, h order; bias (2, 3H):
    row 0 the input bias, row 1 the recurrent bias. PyTorch: weight_ih [3H, in], weight_hh [3H, H] in r, z, n
    order. Both use n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) n + z h."""
    H = recurrent_kernel.shape[0]
    order = np.r_[np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)]  # (z, r, h) -> (r, z, n)
    bias = np.asarray(bias)
    if bias.ndim != 2 or bias.shape[0] != 2:
        raise ValueError("only reset_after=True GRUs (bias of shape (2, 3H)) are supported")
    return {"weight_ih_l0": kernel[:, order].T, "weight_hh_l0": recurrent_kernel[:, order].T,
            "bias_ih_l0": bias[0, order], "bias_hh_l0": bias[1, order]}


def keras_gru_reference(x, kernel, recurrent_kernel, bias):
    """Keras' GRUCell(reset_after=True, recurrent_activation='sigmoid') written out in NumPy; last state."""
    H = recurrent_kernel.shape[0]
    sig = lambda v: 1 / (1 + np.exp(-v))
    h = np.zeros((x.shape[0], H))
    for t in range(x.shape[1]):
        xi = x[:, t] @ kernel + bias[0]
        hi = h @ recurrent_kernel + bias[1]
        z = sig(xi[:, :H] + hi[:, :H])
        r = sig(xi[:, H:2 * H] + hi[:, H:2 * H])
        hh = np.tanh(xi[:, 2 * H:] + r * hi[:, 2 * H:])
        h = z * h + (1 - z) * hh
    return h


def modules_from_state_dict(sd):
    """Groups a state_dict into an ordered list of ('gru', {...}) / ('dense', {...}) by module prefix."""
    groups = {}
    for key, value in sd.items():
        prefix, _, name = key.rpartition(".")
        groups.setdefault(prefix, {})[name] = value.detach().cpu().double().numpy()
    mods = []
    for prefix, p in groups.items():
        if "weight_ih_l0" in p:
            if any(k.endswith("_reverse") for k in p):
                raise ValueError(f"{prefix}: bidirectional GRUs are not supported")
            mods.append(("gru", p))
        elif set(p) == {"weight", "bias"} and p["weight"].ndim == 2:
            mods.append(("dense", p))
        else:
            raise ValueError(f"{prefix}: not a GRU or Linear module ({sorted(p)})")
    return mods


def build_torch(mods, activations):
    """The same network in PyTorch (float64) for the test vectors."""
    layers = []
    for kind, p in mods:
        if kind == "gru":
            L = sum(1 for k in p if k.startswith("weight_ih_l"))
            g = torch.nn.GRU(p["weight_ih_l0"].shape[1], p["weight_hh_l0"].shape[1], num_layers=L, batch_first=True).double()
            with torch.no_grad():
                for k, v in p.items():
                    getattr(g, k).copy_(torch.from_numpy(v))
            layers.append(g)
        else:
            lin = torch.nn.Linear(p["weight"].shape[1], p["weight"].shape[0]).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(p["weight"]))
                lin.bias.copy_(torch.from_numpy(p["bias"]))
            layers.append(lin)
    acts = {"linear": lambda v: v, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softplus": torch.nn.functional.softplus}
    n_gru = sum(1 for k, _ in mods if k == "gru")

    def run(x):
        h, seen, d = x, 0, 0
        for layer in layers:
            if isinstance(layer, torch.nn.GRU):
                h, _ = layer(h)
                seen += 1
                if seen == n_gru:
                    h = h[:, -1]
            else:
                h = acts[activations[d]](layer(h))
                d += 1
        return h
    return run


def to_ferrum(mods, dropout, activations, preprocessing, steps, metadata):
    n_gru = sum(1 for k, _ in mods if k == "gru")
    n_dense = len(mods) - n_gru
    if mods[0][0] != "gru" or any(k == "gru" for k, _ in mods[n_gru:]):
        raise ValueError("expected GRU modules followed by Linear modules")
    activations = (activations or ["linear"] * n_dense)
    if len(activations) != n_dense:
        raise ValueError(f"{n_dense} Linear modules but {len(activations)} activations")
    layers, parameters, seen = [], {}, 0
    prev = "input"

    def add(obj, weights=None):
        nonlocal prev
        obj["name"], obj["from"] = str(len(layers)), [prev]
        prev = obj["name"]
        layers.append(obj)
        for k, v in (weights or {}).items():  # "<node>.<PyTorch name>", as ferrum's version-2 files key them
            parameters[obj["name"] + "." + k] = v
    for i, (kind, p) in enumerate(mods):
        if kind == "gru":
            L = sum(1 for k in p if k.startswith("weight_ih_l"))
            H = p["weight_hh_l0"].shape[1]
            obj = {"type": "gru", "input_size": int(p["weight_ih_l0"].shape[1]), "hidden_sizes": [int(H)] * L,
                   "return_sequences": seen + 1 < n_gru}
            add(obj, {k: v.tolist() for k, v in p.items()})
            if dropout and seen < len(dropout) and dropout[seen] > 0:
                add({"type": "dropout", "rate": dropout[seen]})
            seen += 1
        else:
            d = i - n_gru
            add({"type": "dense", "in_features": int(p["weight"].shape[1]), "out_features": int(p["weight"].shape[0]),
                 "activation": activations[d]}, {"weight": p["weight"].tolist(), "bias": p["bias"].tolist()})
    F = mods[0][1]["weight_ih_l0"].shape[1]
    run = build_torch(mods, activations)
    rng = np.random.default_rng(2026)
    x = rng.normal(size=(4, steps, F))
    lengths = [steps, max(1, steps // 2), 1, max(1, steps - 3)]
    with torch.no_grad():  # each sample alone, truncated to its length: the 'last state at its own end'
        out = np.concatenate([run(torch.from_numpy(x[b:b + 1, :lengths[b]])).numpy() for b in range(4)])
    return {"format": "ferrum.model", "version": 2, "kind": "nn",
            "architecture": {"dtype": "float64", "inputs": [{"name": "input", "features": int(F), "sequence": True}],
                             "layers": layers, "output": prev},
            "parameters": parameters, "preprocessing": preprocessing, "metadata": metadata,
            "self_test": [{"inputs": [x.tolist()], "lengths": lengths, "output": out.tolist(), "tolerance": 1e-9}]}


def keras_npz_modules(path):
    arrays = np.load(path)
    ws = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    mods, i = [], 0
    while i < len(ws):
        if i + 2 < len(ws) and ws[i].ndim == 2 and ws[i + 1].ndim == 2 and ws[i + 2].ndim == 2 and ws[i + 2].shape[0] == 2:
            mods.append(("gru", keras_gru_to_torch(ws[i], ws[i + 1], ws[i + 2])))
            i += 3
        elif i + 1 < len(ws) and ws[i].ndim == 2 and ws[i + 1].ndim == 1:
            mods.append(("dense", {"weight": ws[i].T, "bias": ws[i + 1]}))  # Keras Dense kernel is (in, out)
            i += 2
        else:
            raise ValueError(f"array {i} (shape {ws[i].shape}) is neither a GRU nor a Dense weight")
    return mods


def self_test():
    rng = np.random.default_rng(3)
    F, H, B, T = 2, 5, 3, 7
    k, rk, b = rng.normal(size=(F, 3 * H)), rng.normal(size=(H, 3 * H)), rng.normal(size=(2, 3 * H))
    x = rng.normal(size=(B, T, F))
    want = keras_gru_reference(x, k, rk, b)
    p = keras_gru_to_torch(k, rk, b)
    g = torch.nn.GRU(F, H, batch_first=True).double()
    with torch.no_grad():
        for name, v in p.items():
            getattr(g, name).copy_(torch.from_numpy(np.ascontiguousarray(v)))
        got = g(torch.from_numpy(x))[0][:, -1].numpy()
    err = np.abs(got - want).max()
    print(f"Keras reset_after GRU -> PyTorch GRU: max |difference| {err:.2e}")
    # the .npz path: Keras get_weights() order for GRU(5) + Dense(1)
    dk, db = rng.normal(size=(H, 1)), rng.normal(size=1)
    with tempfile.TemporaryDirectory() as d:
        np.savez(os.path.join(d, "w.npz"), k, rk, b, dk, db)
        doc = to_ferrum(keras_npz_modules(os.path.join(d, "w.npz")), [], [], {}, T, {})
    tv = doc["self_test"][0]
    xs = np.array(tv["inputs"][0])
    want2 = keras_gru_reference(xs[:1], k, rk, b) @ dk + db
    err2 = abs(tv["output"][0][0] - want2[0, 0])
    print(f"Keras .npz (GRU + Dense) -> ferrum file: |difference| {err2:.2e}")
    return err < 1e-12 and err2 < 1e-12


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state_dict", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--keras-npz")
    ap.add_argument("--demo")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--dropout", default="")
    ap.add_argument("--activations", default="")
    ap.add_argument("--preprocessing")
    ap.add_argument("--steps", type=int, default=32)
    a = ap.parse_args()
    if a.self_test:
        sys.exit(0 if self_test() else 1)
    torch.manual_seed(0)
    if a.demo:
        net = torch.nn.ModuleDict({"gru1": torch.nn.GRU(2, 20, batch_first=True), "gru2": torch.nn.GRU(20, 16, batch_first=True),
                                   "gru3": torch.nn.GRU(16, 8, batch_first=True), "head": torch.nn.Linear(8, 1)})
        mods, out, dropout = modules_from_state_dict(net.state_dict()), a.demo, [0.2, 0.2, 0.1]
    elif a.keras_npz:
        mods, out = keras_npz_modules(a.keras_npz), a.state_dict if a.out is None else a.out
        dropout = [float(v) for v in a.dropout.split(",") if v]
    else:
        if not a.state_dict or not a.out:
            ap.error("give STATE_DICT.pt and OUT.json")
        sd = torch.load(a.state_dict, map_location="cpu")
        if not isinstance(sd, dict):
            sd = sd.state_dict()
        mods, out = modules_from_state_dict(sd), a.out
        dropout = [float(v) for v in a.dropout.split(",") if v]
    prep = json.load(open(a.preprocessing)) if a.preprocessing else {}
    acts = [v for v in a.activations.split(",") if v]
    doc = to_ferrum(mods, dropout, acts, prep, a.steps, {"exported_by": "tools/export_pytorch.py", "torch": torch.__version__})
    d = os.path.dirname(os.path.abspath(out))
    with tempfile.NamedTemporaryFile("w", dir=d, delete=False, suffix=".tmp") as f:  # atomic, as ferrum writes
        json.dump(doc, f)
        tmp = f.name
    os.replace(tmp, out)
    print(f"wrote {out}: {len(doc['architecture']['layers'])} layers")


if __name__ == "__main__":
    main()
