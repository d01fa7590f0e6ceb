#!/usr/bin/env python3
"""Keras-layout test models and a NumPy oracle of Keras' recurrent layers, for tools/convert_keras.py and
tests/test_keras_import.cpp.

The oracle runs a Keras model straight from its model.json and Keras-layout weights (kernel (in, 4H) with gate
column blocks i, f, c, o; one LSTM bias; GRU bias rows input/recurrent), with Keras' equations (LSTMCell,
GRUCell(reset_after=True), recurrent_activation sigmoid) and Keras' masking (keras.backend.rnn): a masked step
keeps the previous state and output; Bidirectional runs the backward layer with go_backwards=True over the whole
padded sequence, reverses its output sequence back, and forces zero outputs at masked steps when returning
sequences. It shares no code with the converter, so it checks the Keras -> PyTorch mapping independently.

usage:
  make_keras_reference.py [OUT_DIR]    # writes OUT_DIR/keras_bilstm.json (a converted 2-member ensemble with
                                       # PyTorch self-test vectors) and OUT_DIR/keras_bilstm_expected.json
                                       # (NumPy-Keras outputs on other inputs); default tests/data
"""
import json, os, sys

import numpy as np


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def lstm_step(x, h, c, k, rk, b):
    z = x @ k + h @ rk + b
    H = h.shape[1]
    i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(x, h, k, rk, b):
    H = h.shape[1]
    xi, hi = x @ k + b[0], h @ rk + b[1]
    z = sigmoid(xi[:, :H] + hi[:, :H])
    r = sigmoid(xi[:, H:2 * H] + hi[:, H:2 * H])
    n = np.tanh(xi[:, 2 * H:] + r * hi[:, 2 * H:])
    return z * h + (1 - z) * n


def keras_rnn(cell, ws, x, mask, go_backwards, return_sequences, zero_output):
    """keras.backend.rnn over (B, T, F) with a (B, T) boolean mask."""
    B, T, _ = x.shape
    H = ws[1].shape[0]
    h, c = np.zeros((B, H)), np.zeros((B, H))
    out = np.zeros((B, H))
    seq = []
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in order:
        if cell == "LSTM":
            hn, cn = lstm_step(x[:, t], h, c, *ws)
        else:
            hn, cn = gru_step(x[:, t], h, *ws), c
        m = mask[:, t:t + 1]
        h, c = np.where(m, hn, h), np.where(m, cn, c)
        out = np.where(m, hn, out)
        seq.append(np.where(m, hn, 0.0) if zero_output else out)
    if return_sequences:
        return np.stack(seq, axis=1)  # in processing order (reversed for go_backwards)
    return out


def keras_predict(model_json, weights, x):
    """Runs a chain-shaped Keras model (the layers in config order) on x (B, T, F) in float64."""
    layers = model_json["config"]["layers"]
    mask = np.ones(x.shape[:2], dtype=bool)
    for l in layers:  # Masking(mask_value) or the tf.math.not_equal(x, y=v) -> reduce_any idiom
        if l["class_name"] == "Masking":
            mask = np.any(x != l["config"]["mask_value"], axis=-1)
        if l["class_name"] == "TFOpLambda" and l["config"]["function"] == "math.not_equal":
            mask = np.any(x != l["inbound_nodes"][0][3]["y"], axis=-1)
    h = x
    for l in layers:
        cls, cfg, name = l["class_name"], l["config"], l["config"]["name"]
        if cls in ("InputLayer", "Masking", "TFOpLambda", "Dropout"):
            continue
        if cls == "Bidirectional":
            inner = cfg["layer"]["config"]
            cell, rs = cfg["layer"]["class_name"], inner["return_sequences"]
            w = weights[name]
            fw = keras_rnn(cell, w[:3], h, mask, False, rs, rs)
            bw = keras_rnn(cell, w[3:], h, mask, True, rs, rs)
            if rs:
                bw = bw[:, ::-1]
            mm = cfg["merge_mode"]
            h = {"concat": lambda: np.concatenate([fw, bw], -1), "sum": lambda: fw + bw, "mul": lambda: fw * bw,
                 "ave": lambda: (fw + bw) / 2}[mm]()
        elif cls in ("LSTM", "GRU"):
            rs = cfg["return_sequences"]
            h = keras_rnn(cls, weights[name], h, mask, False, rs, False)
        elif cls == "Dense":
            k, b = weights[name]
            h = h @ k + b
            act = cfg["activation"]
            h = {"linear": h, "relu": np.maximum(h, 0), "tanh": np.tanh(h), "sigmoid": sigmoid(h),
                 "softplus": np.logaddexp(0, h)}[act]
        elif cls in KERAS_CONV_ORACLE:
            h = KERAS_CONV_ORACLE[cls](h, cfg, weights[name])
        else:
            raise ValueError(f"oracle: layer {cls} not modelled")
    return h


# Keras 2's convolutional, normalisation and attention layers (channels_last), from their documented equations
# and weight layouts; no masking (Keras' Conv1D and pooling layers refuse masks).

def _keras_act(h, act):
    from scipy.special import erf
    return {"linear": lambda: h, "relu": lambda: np.maximum(h, 0), "tanh": lambda: np.tanh(h),
            "sigmoid": lambda: sigmoid(h), "softplus": lambda: np.logaddexp(0, h),
            "gelu": lambda: 0.5 * h * (1 + erf(h / np.sqrt(2)))}[act]()


def keras_conv1d(x, cfg, w):
    kernel = w[0]  # (kernel, in, out)
    k, s, d = kernel.shape[0], cfg["strides"][0], cfg["dilation_rate"][0]
    span = d * (k - 1)
    pad = {"valid": (0, 0), "causal": (span, 0), "same": (span // 2, span - span // 2)}[cfg["padding"]]
    xp = np.pad(x, ((0, 0), pad, (0, 0)))
    n = (xp.shape[1] - span - 1) // s + 1
    y = np.zeros((x.shape[0], n, kernel.shape[2]))
    for t in range(n):
        for j in range(k):
            y[:, t] += xp[:, t * s + j * d] @ kernel[j]
    if cfg.get("use_bias", True):
        y += w[1]
    return _keras_act(y, cfg.get("activation", "linear"))


def keras_batch_norm(x, cfg, w):
    gamma, beta, mean, var = w
    return (x - mean) / np.sqrt(var + cfg["epsilon"]) * gamma + beta


def keras_pool(x, cfg, w, fn):
    k, s = cfg["pool_size"][0], cfg["strides"][0]
    n = (x.shape[1] - k) // s + 1
    return np.stack([fn(x[:, t * s:t * s + k], axis=1) for t in range(n)], axis=1)


def keras_layer_norm(x, cfg, w):
    gamma, beta = w
    m, v = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + cfg["epsilon"]) * gamma + beta


def keras_mha(x, cfg, w):
    """keras.layers.MultiHeadAttention(query=x, value=x): EinsumDense projections (E, heads, key_dim), the query
    scaled by 1/sqrt(key_dim), softmax over the keys, output EinsumDense (heads, key_dim, E)."""
    qk, qb, kk, kb, vk, vb, ok, ob = w
    q = np.einsum("abc,cde->abde", x, qk) + qb
    k = np.einsum("abc,cde->abde", x, kk) + kb
    v = np.einsum("abc,cde->abde", x, vk) + vb
    q = q / np.sqrt(float(cfg["key_dim"]))
    scores = np.einsum("aecd,abcd->acbe", k, q)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = scores / scores.sum(axis=-1, keepdims=True)
    o = np.einsum("acbe,aecd->abcd", probs, v)
    return np.einsum("abcd,cde->abe", o, ok) + ob


KERAS_CONV_ORACLE = {
    "Conv1D": keras_conv1d, "BatchNormalization": keras_batch_norm, "LayerNormalization": keras_layer_norm,
    "MaxPooling1D": lambda x, c, w: keras_pool(x, c, w, np.max),
    "AveragePooling1D": lambda x, c, w: keras_pool(x, c, w, np.mean),
    "GlobalAveragePooling1D": lambda x, c, w: x.mean(axis=1), "GlobalMaxPooling1D": lambda x, c, w: x.max(axis=1),
    "MultiHeadAttention": keras_mha}


def keras_conv_model_json(features=2):
    """A Keras 2.x Functional model with every convolutional / attention layer convert_keras.py takes:
    Conv1D(causal, dilated, relu) -> BatchNormalization -> MaxPooling1D -> Conv1D(same, even kernel, tanh) ->
    LayerNormalization -> MultiHeadAttention(x, x) -> AveragePooling1D(stride 1) -> Conv1D(valid, stride 2, gelu)
    -> GlobalAveragePooling1D -> Dense."""
    def conv(name, filters, k, pad, s, d, act):
        return ("Conv1D", name, {"filters": filters, "kernel_size": [k], "strides": [s], "padding": pad,
                                 "data_format": "channels_last", "dilation_rate": [d], "groups": 1, "activation": act,
                                 "use_bias": True})
    spec = [conv("conv_1", 6, 3, "causal", 1, 2, "relu"),
            ("BatchNormalization", "bn_1", {"axis": [2], "momentum": 0.99, "epsilon": 0.001, "center": True,
                                            "scale": True}),
            ("MaxPooling1D", "pool_1", {"pool_size": [2], "strides": [2], "padding": "valid",
                                        "data_format": "channels_last"}),
            conv("conv_2", 6, 4, "same", 1, 1, "tanh"),
            ("LayerNormalization", "ln_1", {"axis": [2], "epsilon": 0.001, "center": True, "scale": True}),
            ("MultiHeadAttention", "mha", {"num_heads": 2, "key_dim": 3, "value_dim": 3, "dropout": 0.1,
                                           "use_bias": True, "output_shape": None, "attention_axes": [1]}),
            ("AveragePooling1D", "pool_2", {"pool_size": [2], "strides": [1], "padding": "valid",
                                            "data_format": "channels_last"}),
            conv("conv_3", 4, 3, "valid", 2, 1, "gelu"),
            ("GlobalAveragePooling1D", "gap", {"data_format": "channels_last", "keepdims": False}),
            ("Dense", "head", {"units": 1, "activation": "linear", "use_bias": True})]
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, None, features], "dtype": "float32",
               "name": "curve"}, "name": "curve", "inbound_nodes": []}]
    prev = "curve"
    for cls, name, cfg in spec:
        kw = {"value": [prev, 0, 0]} if cls == "MultiHeadAttention" else {}
        layers.append({"class_name": cls, "config": dict(cfg, name=name, trainable=True), "name": name,
                       "inbound_nodes": [[[prev, 0, 0, kw]]]})
        prev = name
    return {"class_name": "Functional", "config": {"name": "conv_test", "layers": layers,
            "input_layers": [["curve", 0, 0]], "output_layers": [["head", 0, 0]]},
            "keras_version": "2.11.0", "backend": "tensorflow"}


def keras_conv_weights(model_json, rng):
    """Random float32 weights in Keras' layout (and order) for keras_conv_model_json's layers."""
    out, width = {}, model_json["config"]["layers"][0]["config"]["batch_input_shape"][-1]
    for l in model_json["config"]["layers"][1:]:
        cls, c, n = l["class_name"], l["config"], l["name"]
        if cls == "Conv1D":
            out[n] = [(f"{n}/kernel:0", rng.normal(scale=0.5, size=(c["kernel_size"][0], width, c["filters"]))),
                      (f"{n}/bias:0", rng.normal(scale=0.3, size=c["filters"]))]
            width = c["filters"]
        elif cls in ("BatchNormalization", "LayerNormalization"):
            ws = [(f"{n}/gamma:0", 1 + rng.normal(scale=0.3, size=width)), (f"{n}/beta:0", rng.normal(scale=0.3, size=width))]
            if cls == "BatchNormalization":
                ws += [(f"{n}/moving_mean:0", rng.normal(scale=0.5, size=width)),
                       (f"{n}/moving_variance:0", rng.uniform(0.3, 2.0, size=width))]
            out[n] = ws
        elif cls == "MultiHeadAttention":
            H, kd = c["num_heads"], c["key_dim"]
            ws = []
            for part in ("query", "key", "value"):
                ws += [(f"{n}/{part}/kernel:0", rng.normal(scale=0.5, size=(width, H, kd))),
                       (f"{n}/{part}/bias:0", rng.normal(scale=0.3, size=(H, kd)))]
            ws += [(f"{n}/attention_output/kernel:0", rng.normal(scale=0.5, size=(H, kd, width))),
                   (f"{n}/attention_output/bias:0", rng.normal(scale=0.3, size=width))]
            out[n] = ws
        elif cls == "Dense":
            out[n] = [(f"{n}/kernel:0", rng.normal(size=(width, c["units"]))), (f"{n}/bias:0", rng.normal(size=c["units"]))]
        else:
            out[n] = []
    return {k: [(wn, a.astype(np.float32)) for wn, a in v] for k, v in out.items()}


def write_keras_conv_model(directory, members=1, seed=2027):
    rng = np.random.default_rng(seed)
    mj = keras_conv_model_json()
    with open(os.path.join(directory, "conv_model.json"), "w") as f:
        json.dump(mj, f)
    files = []
    for m in range(members):
        p = os.path.join(directory, f"conv_weights_{m}.h5")
        write_h5(p, keras_conv_weights(mj, rng))
        files.append(p)
    return mj, files


def keras_predict_each(model_json, weights, x, lengths):
    """keras_predict on each sample alone, cut at its length (how Keras runs curves of different lengths through
    an unmasked convolutional model)."""
    return np.concatenate([keras_predict(model_json, weights, x[b:b + 1, :n]) for b, n in enumerate(lengths)])


def read_weights(path):
    """{layer: [arrays]} from a Keras 2 HDF5 weights file (h5py, float64)."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for ln in f.attrs["layer_names"]:
            ln = ln.decode() if isinstance(ln, bytes) else ln
            g = f[ln]
            out[ln] = [np.array(g[n.decode() if isinstance(n, bytes) else n], dtype=np.float64)
                       for n in g.attrs["weight_names"]]
    return out


def _rnn_cfg(cell, name, units, rs):
    c = {"name": name, "trainable": True, "dtype": "float32", "return_sequences": rs, "return_state": False,
         "go_backwards": False, "stateful": False, "unroll": False, "time_major": False, "units": units,
         "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True}
    if cell == "GRU":
        c["reset_after"] = True
    return {"class_name": cell, "config": c}


def keras_model_json(cell="LSTM", merge="concat", features=2, units=(3, 3), mask_value=-1.0, style="functional"):
    """A Dekany & Grebel-shaped model: Bidirectional(cell, seq) -> Dropout -> Bidirectional(cell) -> Dense(1).
    style "functional": Keras 2.5 Functional JSON with the tf.math.not_equal masking idiom (as their model.json);
    "sequential": a Sequential model with a Masking layer."""
    bi1 = {"class_name": "Bidirectional", "config": {"name": "bidirectional_1", "trainable": True,
           "layer": _rnn_cfg(cell, "rnn_1", units[0], True), "merge_mode": merge}, "name": "bidirectional_1"}
    drop = {"class_name": "Dropout", "config": {"name": "dropout_1", "rate": 0.1}, "name": "dropout_1"}
    bi2 = {"class_name": "Bidirectional", "config": {"name": "bidirectional_2", "trainable": True,
           "layer": _rnn_cfg(cell, "rnn_2", units[1], False), "merge_mode": merge}, "name": "bidirectional_2"}
    head = {"class_name": "Dense", "config": {"name": "head", "units": 1, "activation": "linear", "use_bias": True},
            "name": "head"}
    if style == "sequential":
        inp = {"class_name": "InputLayer", "config": {"name": "seq_input", "batch_input_shape": [None, None, features]}}
        mk = {"class_name": "Masking", "config": {"name": "masking", "mask_value": mask_value}}
        return {"class_name": "Sequential", "config": {"name": "seq", "layers": [inp, mk, bi1, drop, bi2, head]},
                "keras_version": "2.5.0", "backend": "tensorflow"}
    inp = {"class_name": "InputLayer", "config": {"batch_input_shape": [None, None, features], "dtype": "float32",
           "name": "seq_input"}, "name": "seq_input", "inbound_nodes": []}
    neq = {"class_name": "TFOpLambda", "config": {"name": "tf.math.not_equal", "function": "math.not_equal"},
           "name": "tf.math.not_equal", "inbound_nodes": [["seq_input", 0, 0, {"y": mask_value}]]}
    cast = {"class_name": "TFOpLambda", "config": {"name": "tf.cast", "function": "cast"}, "name": "tf.cast",
            "inbound_nodes": [["tf.math.not_equal", 0, 0, {"dtype": "bool"}]]}
    red = {"class_name": "TFOpLambda", "config": {"name": "tf.math.reduce_any", "function": "math.reduce_any"},
           "name": "tf.math.reduce_any", "inbound_nodes": [["tf.cast", 0, 0, {"axis": -1, "keepdims": False}]]}
    bi1["inbound_nodes"] = [[["seq_input", 0, 0, {"mask": ["tf.math.reduce_any", 0, 0]}]]]
    drop["inbound_nodes"] = [[["bidirectional_1", 0, 0, {}]]]
    bi2["inbound_nodes"] = [[["dropout_1", 0, 0, {}]]]
    head["inbound_nodes"] = [[["bidirectional_2", 0, 0, {}]]]
    return {"class_name": "Functional", "config": {"name": "bilstm_test", "layers": [inp, neq, cast, red, bi1, drop, bi2,
            head], "input_layers": [["seq_input", 0, 0]], "output_layers": [["head", 0, 0]]},
            "keras_version": "2.5.0", "backend": "tensorflow"}


def keras_weights(model_json, rng):
    """Random float32 weights in Keras' layout for the layers of keras_model_json."""
    out = {}
    width = model_json["config"]["layers"][0]["config"]["batch_input_shape"][-1]
    for l in model_json["config"]["layers"]:
        cls, cfg = l["class_name"], l["config"]
        if cls == "Bidirectional":
            cell, H = cfg["layer"]["class_name"], cfg["layer"]["config"]["units"]
            G = 4 if cell == "LSTM" else 3
            ws = []
            for d in ("forward", "backward"):
                b = rng.normal(scale=0.5, size=(G * H,) if cell == "LSTM" else (2, G * H))
                ws += [(f"{d}_{cfg['layer']['config']['name']}/cell/kernel:0", rng.normal(scale=0.6, size=(width, G * H))),
                       (f"{d}_{cfg['layer']['config']['name']}/cell/recurrent_kernel:0", rng.normal(scale=0.6, size=(H, G * H))),
                       (f"{d}_{cfg['layer']['config']['name']}/cell/bias:0", b)]
            out[cfg["name"]] = ws
            width = 2 * H if cfg["merge_mode"] == "concat" else H
        elif cls == "Dense":
            out[cfg["name"]] = [("head/kernel:0", rng.normal(size=(width, cfg["units"]))),
                                ("head/bias:0", rng.normal(size=(cfg["units"],)))]
        else:
            out[cfg["name"]] = []
    return {k: [(n, a.astype(np.float32)) for n, a in v] for k, v in out.items()}


def write_h5(path, layer_weights):
    """Keras 2 save_weights layout: root attrs layer_names; per layer group attrs weight_names; datasets under
    '<layer>/<weight name>'."""
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layer_weights])
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.5.0"
        for ln, ws in layer_weights.items():
            g = f.create_group(ln)
            g.attrs["weight_names"] = np.array([n.encode() for n, _ in ws])
            for n, a in ws:
                g.create_dataset(n, data=a)


def write_keras_model(directory, cell="LSTM", merge="concat", members=2, seed=11, style="functional",
                      units=(3, 3)):
    """model.json + weights_0..members-1.h5 in `directory`; returns (model_json, weight paths)."""
    rng = np.random.default_rng(seed)
    mj = keras_model_json(cell, merge, units=units, style=style)
    with open(os.path.join(directory, "model.json"), "w") as f:
        json.dump(mj, f)
    files = []
    for m in range(members):
        p = os.path.join(directory, f"weights_{m}.h5")
        write_h5(p, keras_weights(mj, rng))
        files.append(p)
    return mj, files


def main():
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import convert_keras
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data")
    with tempfile.TemporaryDirectory() as d:
        mj, files = write_keras_model(d, cell="LSTM", merge="concat", members=2, seed=2026)
        doc = convert_keras.to_ferrum(mj, files, steps=9)
        doc["metadata"]["keras_files"] = "tools/make_keras_reference.py (seed 2026)"
        weights = [read_weights(f) for f in files]
    rng = np.random.default_rng(7)
    lengths = [12, 5, 1, 9, 12]
    x = rng.normal(size=(len(lengths), 12, 2))
    for b, n in enumerate(lengths):
        x[b, n:] = -1.0  # the mask value: exactly what Keras receives
    members = np.stack([keras_predict(mj, w, x) for w in weights])  # (2, B, 1)
    expected = {"generator": "tools/make_keras_reference.py (NumPy, Keras LSTMCell equations and masking)",
                "inputs": x.tolist(), "lengths": lengths, "members": members[:, :, 0].tolist(),
                "mean": members.mean(axis=0)[:, 0].tolist()}
    with open(os.path.join(out_dir, "keras_bilstm.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    with open(os.path.join(out_dir, "keras_bilstm_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    tv = doc["self_test"][0]
    xs = np.array(tv["inputs"][0])
    want = np.mean([keras_predict(mj, w, xs) for w in weights], axis=0)
    print(f"PyTorch self-test vectors vs NumPy Keras oracle: max |diff| {np.abs(np.array(tv['output']) - want).max():.1e}")
    print(f"wrote {out_dir}/keras_bilstm.json and keras_bilstm_expected.json")
    # the convolutional / attention model: one member, no mask; the oracle runs each curve at its own length
    with tempfile.TemporaryDirectory() as d:
        mj, files = write_keras_conv_model(d, members=1, seed=2027)
        doc = convert_keras.to_ferrum(mj, files, steps=16)
        doc["metadata"]["keras_files"] = "tools/make_keras_reference.py (seed 2027)"
        w = read_weights(files[0])
    rng = np.random.default_rng(8)
    lengths = [22, 16, 8, 22, 13]  # 8: the model's shortest input
    x = rng.normal(size=(len(lengths), 22, 2))
    y = keras_predict_each(mj, w, x, lengths)
    with open(os.path.join(out_dir, "keras_conv.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    with open(os.path.join(out_dir, "keras_conv_expected.json"), "w") as f:
        json.dump({"generator": "tools/make_keras_reference.py (NumPy, Keras 2 Conv1D, BatchNormalization, pooling, "
                                "LayerNormalization, MultiHeadAttention equations; each sample at its own length)",
                   "inputs": x.tolist(), "lengths": lengths, "output": y.tolist()}, f, separators=(",", ":"))
    tv = doc["self_test"][0]
    err = np.abs(np.array(tv["output"]) - keras_predict_each(mj, w, np.array(tv["inputs"][0]), tv["lengths"])).max()
    print(f"conv/attention model: PyTorch self-test vectors vs NumPy Keras oracle: max |diff| {err:.1e}")
    print(f"wrote {out_dir}/keras_conv.json and keras_conv_expected.json")


if __name__ == "__main__":
    main()
