#!/usr/bin/env python3
"""Convert a Keras model (model.json + HDF5 weights) into a ferrum model file (docs/nn.md, "Importing Keras and
PyTorch models").

Reads the architecture JSON of `model.to_json()` (Keras 2 "Functional"/"Model"/"Sequential"; Keras 3 layer
entries are read too) and the weights of `model.save_weights("w.h5")` (Keras 2 HDF5 layout: the file's
`layer_names`, each group's `weight_names`; a whole-model `model.save("m.h5")` file is read from its
`model_weights` group). Supported layers: InputLayer, Masking and the `tf.math.not_equal -> tf.cast ->
tf.math.reduce_any` masking idiom (both become per-sample lengths: ferrum takes the number of leading unmasked
steps of each sample), LSTM, GRU (reset_after=True), Bidirectional(LSTM|GRU) with merge_mode concat, sum, mul or
ave, Dropout (a ferrum dropout layer: identity at inference, available for MC dropout), Dense and Activation
with linear, relu, tanh, sigmoid or softplus; in models without a mask, Conv1D (valid, causal, same at stride 1),
BatchNormalization (moving statistics), MaxPooling1D / AveragePooling1D (valid), GlobalAveragePooling1D,
GlobalMaxPooling1D, LayerNormalization and MultiHeadAttention used as self-attention (num_heads x key_dim =
features); GlobalAveragePooling1D, BatchNormalization and LayerNormalization also after a mask. Anything else
is refused with the layer's name.

Weight mapping (Keras -> ferrum/PyTorch names): LSTM kernel (in, 4H) with gate blocks i, f, c, o -> weight_ih
[4H, in] (the same block order: PyTorch's i, f, g, o), recurrent_kernel (H, 4H) -> weight_hh [4H, H], the one
bias (4H) -> bias_ih, bias_hh = 0. GRU as tools/export_pytorch.py (z, r, h -> r, z, n; bias rows split).
Bidirectional: the forward layer's weights, then the backward layer's as *_reverse. Dense kernel (in, out) ->
weight [out, in]. Conv1D kernel (k, in, out) -> weight [out, in, k]. BatchNormalization gamma, beta ->
weight, bias; moving_mean, moving_variance -> the layer's running statistics. MultiHeadAttention query, key,
value kernels (E, heads, key_dim) -> in_proj_weight rows (each reshaped to (E, E) and transposed), biases
(heads, key_dim) -> in_proj_bias, output kernel (heads, key_dim, E) -> out_proj.weight.

Several weight files (a k-fold ensemble such as Dekany & Grebel's weights_0..9.h5) become one ferrum graph:
every member reads the input, their outputs are concatenated and a fixed dense layer with weights 1/N averages
them (the ensemble mean their code reports); --members keeps the N member outputs instead (e.g. for the spread).

The file carries test vectors computed by PyTorch (float64 torch.nn.LSTM/GRU with pack_padded_sequence, so the
reverse direction starts at each sample's own last step, as Keras masking does), which
ferrum::nn::load_model(path, verify=true) re-checks. --self-test checks the mapping against Keras' own LSTM/GRU
equations with Keras' masking written out in NumPy (tools/make_keras_reference.py), independently of this
file's PyTorch path.

usage:
  convert_keras.py MODEL.json WEIGHTS.h5 [WEIGHTS2.h5 ...] OUT.json [--members] [--steps 24]
                   [--preprocessing prep.json] [--quiet]
  convert_keras.py --self-test
"""
import argparse, json, os, sys, tempfile

import numpy as np

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softplus")


class ConversionError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# Architecture

def _layer_class(entry):
    return entry.get("class_name", "?")


def _layer_name(entry):
    return entry.get("name") or entry.get("config", {}).get("name", "?")


def _inbound(entry):
    """Names of the layers an entry reads (first call), and the names used in its call kwargs (e.g. a mask).
    Keras 2: [[[name, node, tensor, kwargs], ...]]; Keras 3: [{"args": [...], "kwargs": {...}}]."""
    nodes = entry.get("inbound_nodes") or []
    if not nodes:
        return [], {}
    node = nodes[0]
    if len(nodes) > 1:
        raise ConversionError(f"layer '{_layer_name(entry)}' is called {len(nodes)} times (shared layers are not supported)")
    ins, kw = [], {}
    if isinstance(node, dict):  # Keras 3
        def hist(v):
            if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                return v["config"]["keras_history"][0]
            return None
        for a in node.get("args", []):
            for v in (a if isinstance(a, list) else [a]):
                if hist(v):
                    ins.append(hist(v))
        for k, v in node.get("kwargs", {}).items():
            kw[k] = hist(v) if hist(v) else v
        return ins, kw
    if node and isinstance(node[0], str):  # TFOpLambda: the node is one tensor spec [name, node, tensor, kwargs]
        node = [node]
    for t in node:
        ins.append(t[0])
        if len(t) > 3 and isinstance(t[3], dict):
            for k, v in t[3].items():
                kw[k] = v[0] if isinstance(v, list) and v and isinstance(v[0], str) else v
    return ins, kw


def _chain(model_json):
    """The layers of a Keras model as a list from the input to the output, with the mask value if the model
    masks its input. Raises ConversionError for graphs that are not a chain (besides the masking idiom)."""
    cls = model_json.get("class_name")
    cfg = model_json.get("config", {})
    layers = cfg["layers"] if isinstance(cfg, dict) else cfg  # Keras 2.0-2.2 Sequential: config is the list
    if cls == "Sequential":
        chain = [l for l in layers]
        first = chain[0] if chain else {}
        shape = first.get("config", {}).get("batch_input_shape") or first.get("config", {}).get("batch_shape")
        if _layer_class(first) != "InputLayer":
            if shape is None:
                raise ConversionError("Sequential model without an input shape (build the model before saving it)")
            chain = [{"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": shape}}] + chain
        return chain, _mask_of_chain(chain)
    if cls not in ("Functional", "Model"):
        raise ConversionError(f"unsupported model class '{cls}' (expected Functional, Model or Sequential)")
    by_name = {_layer_name(l): l for l in layers}
    outs = cfg.get("output_layers")
    ins = cfg.get("input_layers")
    if isinstance(outs, list) and outs and isinstance(outs[0], str):  # Keras 3 single: ["name", 0, 0]
        outs = [outs]
    if isinstance(ins, list) and ins and isinstance(ins[0], str):
        ins = [ins]
    if not outs or len(outs) != 1 or not ins or len(ins) != 1:
        raise ConversionError("only models with one input and one output are supported")
    mask_value = None
    chain = []
    name = outs[0][0]
    while True:
        if name not in by_name:
            raise ConversionError(f"layer '{name}' is referred to but not defined")
        entry = by_name[name]
        chain.append(entry)
        srcs, kw = _inbound(entry)
        if "mask" in kw and kw["mask"] is not None:
            mv = _mask_idiom(by_name, kw["mask"], srcs[0] if srcs else None)
            if mask_value is not None and mv != mask_value:
                raise ConversionError(f"layer '{name}': a second, different mask")
            mask_value = mv
        if _layer_class(entry) == "InputLayer":
            break
        if _layer_class(entry) in ("MultiHeadAttention",) and srcs:
            others = [kw.get(k) for k in ("value", "key") if kw.get(k) is not None]
            if len(set(srcs + others)) != 1:
                raise ConversionError(f"layer '{name}' (MultiHeadAttention): query, key and value differ (only "
                                      "self-attention, layer(x, x), is supported)")
            if kw.get("attention_mask") is not None or kw.get("use_causal_mask"):
                raise ConversionError(f"layer '{name}' (MultiHeadAttention): attention_mask / use_causal_mask are not "
                                      "supported")
            srcs = srcs[:1]
        if len(srcs) != 1:
            raise ConversionError(f"layer '{name}' ({_layer_class(entry)}) reads {len(srcs)} tensors: only chains of "
                                  "layers (one input each) are supported")
        name = srcs[0]
    chain.reverse()
    m = _mask_of_chain(chain)
    if m is not None:
        if mask_value is not None and m != mask_value:
            raise ConversionError("the model uses two different mask values")
        mask_value = m
    return chain, mask_value


def _mask_of_chain(chain):
    vals = [l["config"].get("mask_value", 0.0) for l in chain if _layer_class(l) == "Masking"]
    if len(vals) > 1:
        raise ConversionError("more than one Masking layer")
    return float(vals[0]) if vals else None


def _mask_idiom(by_name, mask_name, data_name):
    """Dekany & Grebel's masking: Masking(mask_value=v).compute_mask(x) saved as the TFOpLambda chain
    not_equal(x, y=v) -> cast(bool) -> reduce_any(axis=-1): a step is masked when every feature equals v."""
    steps = []
    name = mask_name
    for _ in range(3):
        e = by_name.get(name)
        if e is None or _layer_class(e) not in ("TFOpLambda", "SlicingOpLambda"):
            break
        srcs, kw = _inbound(e)
        steps.append((e["config"].get("function"), kw, srcs))
        name = srcs[0] if srcs else None
    fns = [s[0] for s in steps]
    if fns != ["math.reduce_any", "cast", "math.not_equal"]:
        raise ConversionError(f"mask '{mask_name}': unsupported mask computation {fns} (supported: Masking, or "
                              "tf.math.not_equal -> tf.cast -> tf.math.reduce_any(axis=-1))")
    red, cast, neq = steps
    if red[1].get("axis", -1) not in (-1, 2) or red[1].get("keepdims", False):
        raise ConversionError(f"mask '{mask_name}': reduce_any must run over the last axis")
    if neq[2][0] != data_name:
        raise ConversionError(f"mask '{mask_name}' is computed from '{neq[2][0]}', not from the layer's input")
    y = neq[1].get("y")
    if not isinstance(y, (int, float)):
        raise ConversionError(f"mask '{mask_name}': not_equal must compare with a constant")
    return float(y)


def _rnn_config(name, cls, c):
    """Checks that an LSTM/GRU config is one ferrum computes; returns (units, return_sequences)."""
    for k, want in (("activation", "tanh"), ("go_backwards", False), ("stateful", False),
                    ("return_state", False), ("time_major", False)):
        if k in c and c[k] != want:
            raise ConversionError(f"layer '{name}' ({cls}): {k}={c[k]!r} is not supported (only {want!r})")
    ra = c.get("recurrent_activation", "sigmoid")
    if ra != "sigmoid":
        raise ConversionError(f"layer '{name}' ({cls}): recurrent_activation '{ra}' is not supported: ferrum's gates "
                              "use the logistic sigmoid (TF2 Keras' default; old Keras 2.x used hard_sigmoid)")
    if cls == "GRU" and not c.get("reset_after", True):
        raise ConversionError(f"layer '{name}' (GRU): reset_after=False is a different cell (not supported)")
    return int(c["units"]), bool(c.get("return_sequences", False))


CONV_LAYERS = ("Conv1D", "BatchNormalization", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D",
               "GlobalMaxPooling1D", "LayerNormalization", "MultiHeadAttention")


def _one(v, what):
    """A Keras size given as an int or a 1-tuple/list."""
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ConversionError(f"{what} {v} is not one number")
        v = v[0]
    return int(v)


def _feature_axis(name, cls, axis, seq):
    ax = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if ax not in (-1, 2 if seq else 1):
        raise ConversionError(f"layer '{name}' ({cls}): axis={axis!r}: only the features (the last axis) are supported")


def _conv_plan(cls, name, c, width, seq, masked):
    """ferrum items for the convolutional / normalisation / attention layers; returns (items, width, seq)."""
    if c.get("data_format", "channels_last") != "channels_last":
        raise ConversionError(f"layer '{name}' ({cls}): data_format={c['data_format']!r} (only channels_last)")
    needs_seq = cls not in ("BatchNormalization", "LayerNormalization")
    if needs_seq and not seq:
        raise ConversionError(f"layer '{name}' ({cls}) needs a sequence input")
    if cls == "Conv1D":
        if masked:
            raise ConversionError(f"layer '{name}' (Conv1D) after a mask: not supported (Keras 2's Conv1D does not "
                                  "support masking)")
        k, s, d = _one(c["kernel_size"], "kernel_size"), _one(c.get("strides", 1), "strides"), \
            _one(c.get("dilation_rate", 1), "dilation_rate")
        pad = c.get("padding", "valid")
        if pad not in ("valid", "same", "causal") or (pad == "same" and s != 1):
            raise ConversionError(f"layer '{name}' (Conv1D): padding={pad!r} with strides {s} is not supported (valid, "
                                  "causal, or same at stride 1)")
        if s != 1 and d != 1:
            raise ConversionError(f"layer '{name}' (Conv1D): strides and dilation_rate both above 1")
        if c.get("groups", 1) != 1:
            raise ConversionError(f"layer '{name}' (Conv1D): groups={c['groups']} is not supported")
        act = c.get("activation", "linear")
        if act not in ACTIVATIONS + ("gelu",):
            raise ConversionError(f"layer '{name}' (Conv1D): activation '{act}' is not supported "
                                  f"(supported: {', '.join(ACTIVATIONS)}, gelu)")
        F = int(c["filters"])
        items = [{"type": "conv1d", "keras": name, "in_channels": width, "out_channels": F, "kernel_size": k,
                  "stride": s, "dilation": d, "padding": pad, "bias": True, "use_bias": bool(c.get("use_bias", True))}]
        if act == "gelu":
            items.append({"type": "gelu", "keras": name, "weights": False})
        elif act != "linear":
            items.append({"type": "activation", "keras": name, "activation": act, "weights": False})
        return items, F, True
    if cls == "BatchNormalization":
        _feature_axis(name, cls, c.get("axis", -1), seq)
        if c.get("renorm") or c.get("virtual_batch_size"):
            raise ConversionError(f"layer '{name}' (BatchNormalization): renorm / virtual_batch_size are not supported")
        return [{"type": "batch_norm", "keras": name, "channels": width, "eps": float(c.get("epsilon", 1e-3)),
                 "momentum": 1.0 - float(c.get("momentum", 0.99)), "center": bool(c.get("center", True)),
                 "scale": bool(c.get("scale", True))}], width, seq
    if cls in ("MaxPooling1D", "AveragePooling1D"):
        k = _one(c.get("pool_size", 2), "pool_size")
        s = _one(c.get("strides") or k, "strides")
        if c.get("padding", "valid") != "valid":
            raise ConversionError(f"layer '{name}' ({cls}): padding={c['padding']!r} (only valid)")
        if masked:
            raise ConversionError(f"layer '{name}' ({cls}) after a mask: not supported (a masked Keras pooling layer has "
                                  "not been checked against ferrum's per-sample lengths)")
        return [{"type": "max_pool1d" if cls == "MaxPooling1D" else "avg_pool1d", "keras": name, "kernel_size": k,
                 "stride": s, "weights": False}], width, True
    if cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        if c.get("keepdims"):
            raise ConversionError(f"layer '{name}' ({cls}): keepdims=True is not supported")
        if masked and cls == "GlobalMaxPooling1D":
            raise ConversionError(f"layer '{name}' (GlobalMaxPooling1D) in a masked model: ferrum maximises over the "
                                  "valid steps only; Keras 2's masked maximum has not been checked (not supported)")
        t = "global_average_pooling" if cls == "GlobalAveragePooling1D" else "global_max_pooling"
        return [{"type": t, "keras": name, "weights": False}], width, False
    if cls == "LayerNormalization":
        _feature_axis(name, cls, c.get("axis", -1), seq)
        return [{"type": "layer_norm", "keras": name, "features": width, "eps": float(c.get("epsilon", 1e-3)),
                 "center": bool(c.get("center", True)), "scale": bool(c.get("scale", True))}], width, seq
    if cls == "MultiHeadAttention":
        if masked:
            raise ConversionError(f"layer '{name}' (MultiHeadAttention) in a masked model: how Keras' attention "
                                  "treats a mask changed between versions (not supported)")
        H, kd = int(c["num_heads"]), int(c["key_dim"])
        vd = c.get("value_dim") or kd
        if H * kd != width or vd != kd or c.get("output_shape") not in (None, width, [width]) or \
                c.get("attention_axes") not in (None, [1], (1,)):
            raise ConversionError(f"layer '{name}' (MultiHeadAttention): num_heads {H} x key_dim {kd} must equal the "
                                  f"features ({width}), with value_dim = key_dim, no output_shape, attention over time")
        return [{"type": "multi_head_attention", "keras": name, "embed_dim": width, "num_heads": H,
                 "use_bias": bool(c.get("use_bias", True))}], width, True
    raise ConversionError(f"layer '{name}': {cls}")


def plan(model_json):
    """The ferrum layer list (dicts without weights) of a Keras model, and its input features and mask value.
    Each item: {"type", "keras": layer name, ...config}."""
    chain, mask_value = _chain(model_json)
    inp = chain[0]
    if _layer_class(inp) != "InputLayer":
        raise ConversionError("the model does not start with an InputLayer")
    shape = inp["config"].get("batch_input_shape") or inp["config"].get("batch_shape")
    if not shape or len(shape) not in (2, 3) or shape[-1] is None:
        raise ConversionError(f"input '{_layer_name(inp)}': shape {shape} is not (batch, [time,] features)")
    features, sequence = int(shape[-1]), len(shape) == 3
    out, width, seq = [], features, sequence
    for e in chain[1:]:
        cls, name, c = _layer_class(e), _layer_name(e), e.get("config", {})
        if cls in ("Masking",):
            continue
        if cls == "Dropout" or cls == "SpatialDropout1D":
            out.append({"type": "dropout", "keras": name, "rate": float(c.get("rate", 0.0))})
            continue
        if cls in CONV_LAYERS:
            item, width, seq = _conv_plan(cls, name, c, width, seq, mask_value is not None)
            out += item
            continue
        if cls in ("Activation", "Dense"):
            act = c.get("activation", "linear")
            if act not in ACTIVATIONS:
                raise ConversionError(f"layer '{name}' ({cls}): activation '{act}' is not supported "
                                      f"(supported: {', '.join(ACTIVATIONS)})")
        if cls == "Activation":
            out.append({"type": "activation", "keras": name, "activation": act})
            continue
        if cls == "Dense":
            units = int(c["units"])
            out.append({"type": "dense", "keras": name, "in_features": width, "out_features": units,
                        "activation": act, "use_bias": bool(c.get("use_bias", True))})
            width = units
            continue
        if cls in ("LSTM", "GRU", "Bidirectional"):
            if not seq:
                raise ConversionError(f"layer '{name}' ({cls}) needs a sequence input")
            merge, inner = None, e
            if cls == "Bidirectional":
                inner = c["layer"]
                merge = c.get("merge_mode", "concat")
                if merge not in ("concat", "sum", "mul", "ave"):
                    raise ConversionError(f"layer '{name}' (Bidirectional): merge_mode {merge!r} is not supported "
                                          "(supported: concat, sum, mul, ave)")
                if c.get("backward_layer") is not None:
                    bc = c["backward_layer"].get("config", {})
                    if bc.get("units") != inner["config"].get("units") or _layer_class(c["backward_layer"]) != _layer_class(inner):
                        raise ConversionError(f"layer '{name}' (Bidirectional): a backward layer unlike the forward one")
            icls = _layer_class(inner)
            if icls not in ("LSTM", "GRU"):
                raise ConversionError(f"layer '{name}' ({cls}): wraps '{icls}', only LSTM and GRU are supported")
            units, rs = _rnn_config(name, icls, inner["config"])
            item = {"type": icls.lower(), "keras": name, "input_size": width, "hidden_sizes": [units],
                    "return_sequences": rs, "use_bias": bool(inner["config"].get("use_bias", True))}
            if merge:
                item["bidirectional"], item["merge_mode"] = True, merge
            out.append(item)
            width = 2 * units if merge == "concat" else units
            seq = rs
            continue
        raise ConversionError(f"unsupported Keras layer '{name}' ({cls}); supported: InputLayer, Masking (and the "
                              "tf.math.not_equal masking idiom), LSTM, GRU, Bidirectional, Dense, Activation, Dropout, "
                              + ", ".join(CONV_LAYERS))
    if not out:
        raise ConversionError("the model has no layers to convert")
    if seq:
        raise ConversionError("the model's output is a sequence: only models that end in a table (last state, "
                              "dense head) are supported")
    return out, features, sequence, mask_value


# ---------------------------------------------------------------------------------------------------------------
# Weights

def read_keras_h5(path):
    """{layer name: [arrays in Keras' weight order]} from a Keras 2 HDF5 weights (or whole-model) file."""
    import h5py

    def s(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConversionError(f"{path}: not an HDF5 file ({e})")
    with f:
        g = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in g.attrs:
            raise ConversionError(f"{path}: no 'layer_names' attribute: not a Keras 2 HDF5 weights file "
                                  "(Keras 3 .weights.h5 files are not supported: save with Keras 2 or tf.keras)")
        out = {}
        for ln in g.attrs["layer_names"]:
            ln = s(ln)
            grp = g[ln]
            out[ln] = [np.asarray(grp[s(wn)], dtype=np.float64) for wn in grp.attrs.get("weight_names", [])]
        return out


def _lstm_tensors(arrays, where, H, in_size, use_bias):
    if len(arrays) != (3 if use_bias else 2):
        raise ConversionError(f"{where}: {len(arrays)} weight arrays, expected kernel, recurrent_kernel" +
                              (", bias" if use_bias else ""))
    k, rk = arrays[0], arrays[1]
    b = arrays[2] if use_bias else np.zeros(4 * H)
    if k.shape != (in_size, 4 * H) or rk.shape != (H, 4 * H) or b.shape != (4 * H,):
        raise ConversionError(f"{where}: LSTM weights of shapes {k.shape}, {rk.shape}, {b.shape}; expected "
                              f"({in_size}, {4 * H}), ({H}, {4 * H}), ({4 * H},)")
    # Keras' column blocks i, f, c, o are PyTorch's row blocks i, f, g, o: a transpose, no reordering.
    return {"weight_ih": k.T, "weight_hh": rk.T, "bias_ih": b, "bias_hh": np.zeros(4 * H)}


def _gru_tensors(arrays, where, H, in_size, use_bias):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from export_pytorch import keras_gru_to_torch
    if len(arrays) != (3 if use_bias else 2):
        raise ConversionError(f"{where}: {len(arrays)} weight arrays, expected kernel, recurrent_kernel, bias")
    k, rk = arrays[0], arrays[1]
    b = arrays[2] if use_bias else np.zeros((2, 3 * H))
    if k.shape != (in_size, 3 * H) or rk.shape != (H, 3 * H) or b.shape != (2, 3 * H):
        raise ConversionError(f"{where}: GRU weights of shapes {k.shape}, {rk.shape}, {b.shape}; expected "
                              f"({in_size}, {3 * H}), ({H}, {3 * H}), (2, {3 * H}) (reset_after=True)")
    t = keras_gru_to_torch(k, rk, b)
    return {n[:-3]: v for n, v in t.items()}  # drop "_l0"


def member_parameters(layers, weights, path):
    """The PyTorch-named tensors of every converted layer (list parallel to `layers`) from one weights file."""
    out = []
    for l in layers:
        name = l["keras"]
        arrays = weights.get(name)
        if arrays is None:
            raise ConversionError(f"{path}: no weights for layer '{name}'")
        where = f"{path}: layer '{name}'"
        if l["type"] in ("lstm", "gru"):
            H, fn = l["hidden_sizes"][0], (_lstm_tensors if l["type"] == "lstm" else _gru_tensors)
            per = 3 if l["use_bias"] else 2
            dirs = 2 if l.get("bidirectional") else 1
            if len(arrays) != per * dirs:
                raise ConversionError(f"{where}: {len(arrays)} weight arrays, expected {per * dirs}")
            p = {}
            for d in range(dirs):
                t = fn(arrays[d * per:(d + 1) * per], where + (" (backward)" if d else ""), H, l["input_size"],
                       l["use_bias"])
                for k, v in t.items():
                    p[f"{k}_l0" + ("_reverse" if d else "")] = v
            out.append(p)
        elif l["type"] == "dense":
            per = 2 if l["use_bias"] else 1
            if len(arrays) != per or arrays[0].shape != (l["in_features"], l["out_features"]):
                raise ConversionError(f"{where}: Dense weights {[a.shape for a in arrays]}, expected kernel "
                                      f"({l['in_features']}, {l['out_features']})" + (" and bias" if per == 2 else ""))
            out.append({"weight": arrays[0].T,
                        "bias": arrays[1] if per == 2 else np.zeros(l["out_features"])})
        elif l["type"] in ("conv1d", "batch_norm", "layer_norm", "multi_head_attention") and l.get("weights", True):
            out.append(_conv_tensors(l, arrays, where))
        else:
            if arrays and l.get("weights", True):
                raise ConversionError(f"{where}: a {l['type']} layer with weights")
            out.append({})
    return out


def _conv_tensors(l, arrays, where):
    """PyTorch-named tensors of a Keras Conv1D, BatchNormalization, LayerNormalization or MultiHeadAttention
    (Keras' weight order: kernel, bias; gamma, beta, moving_mean, moving_variance; q, k, v, output kernel/bias).
    A batch norm's running statistics go into the layer's config (key "__config__")."""
    def want(n, shapes):
        if len(arrays) != n or any(a.shape != sh for a, sh in zip(arrays, shapes)):
            raise ConversionError(f"{where}: weights of shapes {[a.shape for a in arrays]}, expected {shapes}")
    t = l["type"]
    if t == "conv1d":
        k, ci, co = l["kernel_size"], l["in_channels"], l["out_channels"]
        shapes = [(k, ci, co)] + ([(co,)] if l["use_bias"] else [])
        want(len(shapes), shapes)
        return {"weight": arrays[0].transpose(2, 1, 0), "bias": arrays[1] if l["use_bias"] else np.zeros(co)}
    if t in ("batch_norm", "layer_norm"):
        C = l["channels"] if t == "batch_norm" else l["features"]
        n = int(l["scale"]) + int(l["center"]) + (2 if t == "batch_norm" else 0)
        want(n, [(C,)] * n)
        it = iter(arrays)
        g = next(it) if l["scale"] else np.ones(C)
        b = next(it) if l["center"] else np.zeros(C)
        p = {"weight": g, "bias": b}
        if t == "batch_norm":
            mean, var = next(it), next(it)
            if np.any(var < 0):
                raise ConversionError(f"{where}: a negative moving_variance")
            p["__config__"] = {"running_mean": mean.tolist(), "running_var": var.tolist(), "num_batches_tracked": 0}
        return p
    E, H = l["embed_dim"], l["num_heads"]
    kd = E // H
    proj = [(E, H, kd)] + ([(H, kd)] if l["use_bias"] else [])
    shapes = proj * 3 + [(H, kd, E)] + ([(E,)] if l["use_bias"] else [])
    want(len(shapes), shapes)
    per = 2 if l["use_bias"] else 1
    qkv = [arrays[i * per] for i in range(3)]
    bias = [arrays[i * per + 1] if l["use_bias"] else np.zeros((H, kd)) for i in range(3)]
    ok, ob = arrays[3 * per], (arrays[3 * per + 1] if l["use_bias"] else np.zeros(E))
    # Keras' einsum kernels (E, heads, key_dim): feature e -> head h, column d is PyTorch's row h*key_dim + d
    return {"in_proj_weight": np.concatenate([w.reshape(E, E).T for w in qkv], axis=0),
            "in_proj_bias": np.concatenate([b.reshape(E) for b in bias]),
            "out_proj.weight": ok.reshape(E, E).T, "out_proj.bias": ob}


# ---------------------------------------------------------------------------------------------------------------
# PyTorch forward (test vectors)

def torch_member(layers, params):
    """A function (x float64 [B, T, F], lengths) -> outputs [B, out] running one member in PyTorch."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    mods = []
    for l, p in zip(layers, params):
        if l["type"] in ("lstm", "gru"):
            cls = torch.nn.LSTM if l["type"] == "lstm" else torch.nn.GRU
            m = cls(l["input_size"], l["hidden_sizes"][0], batch_first=True,
                    bidirectional=bool(l.get("bidirectional"))).double()
            with torch.no_grad():
                for k, v in p.items():
                    getattr(m, k).copy_(torch.from_numpy(np.ascontiguousarray(v)))
            mods.append(m)
        elif l["type"] == "dense":
            m = torch.nn.Linear(l["in_features"], l["out_features"]).double()
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(p["weight"])))
                m.bias.copy_(torch.from_numpy(np.ascontiguousarray(p["bias"])))
            mods.append(m)
        elif l["type"] in ("conv1d", "batch_norm", "layer_norm", "multi_head_attention"):
            mods.append(_torch_module(l, p))
        else:
            mods.append(None)
    acts = {"linear": lambda v: v, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "softplus": torch.nn.functional.softplus}

    def merge(a, b, mode):
        return {"concat": lambda: torch.cat([a, b], -1), "sum": lambda: a + b, "mul": lambda: a * b,
                "ave": lambda: (a + b) / 2}[mode]()

    def run(x, lengths):
        h = torch.from_numpy(np.asarray(x, dtype=np.float64))
        lens = torch.tensor(lengths, dtype=torch.int64)
        with torch.no_grad():
            for l, m in zip(layers, mods):
                if l["type"] in ("lstm", "gru"):
                    T = h.shape[1]
                    packed = pack_padded_sequence(h, lens, batch_first=True, enforce_sorted=False)
                    y, hn = m(packed)
                    hn = hn[0] if l["type"] == "lstm" else hn
                    H = l["hidden_sizes"][0]
                    if l["return_sequences"]:
                        y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)  # zeros past each length
                        h = merge(y[..., :H], y[..., H:], l["merge_mode"]) if l.get("bidirectional") else y
                    else:  # h_n: forward at each sample's own last step; reverse after reading step 0
                        h = merge(hn[-2], hn[-1], l["merge_mode"]) if l.get("bidirectional") else hn[-1]
                elif l["type"] == "dense":
                    h = acts[l["activation"]](m(h))
                elif l["type"] == "activation":
                    h = acts[l["activation"]](h)
                elif l["type"] == "gelu":
                    h = torch.nn.functional.gelu(h)
                elif l["type"] in ("conv1d", "batch_norm") and h.dim() == 3:
                    h = m(h.transpose(1, 2)).transpose(1, 2)
                elif l["type"] in ("batch_norm", "layer_norm"):
                    h = m(h)
                elif l["type"] == "multi_head_attention":
                    h = m(h, h, h, need_weights=False)[0]
                elif l["type"] in ("max_pool1d", "avg_pool1d"):
                    f = torch.nn.functional.max_pool1d if l["type"] == "max_pool1d" else torch.nn.functional.avg_pool1d
                    h = f(h.transpose(1, 2), l["kernel_size"], l["stride"]).transpose(1, 2)
                elif l["type"] == "global_average_pooling":
                    h = h.mean(dim=1)
                elif l["type"] == "global_max_pooling":
                    h = h.max(dim=1).values
        return h.numpy()

    if all(l["type"] in ("lstm", "gru", "dense", "activation", "dropout") for l in layers):
        return run  # pack_padded_sequence handles the lengths

    def run_each(x, lengths):  # each sample alone, cut at its length (ferrum's masks for every other layer)
        x = np.asarray(x, dtype=np.float64)
        return np.concatenate([run(x[b:b + 1, :n], [n]) for b, n in enumerate(lengths)], axis=0)
    return run_each


def _torch_module(l, p):
    """A float64 torch module holding a converted layer's tensors (test vectors)."""
    import torch
    t = l["type"]
    if t == "conv1d":
        pad = {"valid": 0, "same": "same", "causal": 0}[l["padding"]]
        conv = torch.nn.Conv1d(l["in_channels"], l["out_channels"], l["kernel_size"], stride=l["stride"],
                               dilation=l["dilation"], padding=pad).double()
        m = conv
        if l["padding"] == "causal":
            m = torch.nn.Sequential(torch.nn.ConstantPad1d((l["dilation"] * (l["kernel_size"] - 1), 0), 0.0), conv)
    elif t == "batch_norm":
        m = conv = torch.nn.BatchNorm1d(l["channels"], eps=l["eps"]).double()
        with torch.no_grad():
            conv.running_mean.copy_(torch.tensor(p["__config__"]["running_mean"], dtype=torch.float64))
            conv.running_var.copy_(torch.tensor(p["__config__"]["running_var"], dtype=torch.float64))
    elif t == "layer_norm":
        m = conv = torch.nn.LayerNorm(l["features"], eps=l["eps"]).double()
    else:
        m = conv = torch.nn.MultiheadAttention(l["embed_dim"], l["num_heads"], batch_first=True).double()
    with torch.no_grad():
        for k, v in p.items():
            if k != "__config__":
                conv.get_parameter(k).copy_(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)))
    return m.eval()


def _min_length(layers):
    """The shortest sequence every layer takes (a 'valid' span or a pooling window needs its steps)."""
    for n in range(1, 100000):
        k = n
        for l in layers:
            if l["type"] == "conv1d":
                span = l["dilation"] * (l["kernel_size"] - 1) + 1
                k = ((k - span) // l["stride"] + 1 if k >= span else 0) if l["padding"] == "valid" else \
                    (k - 1) // l["stride"] + 1
            elif l["type"] in ("max_pool1d", "avg_pool1d"):
                k = (k - l["kernel_size"]) // l["stride"] + 1 if k >= l["kernel_size"] else 0
            if k < 1:
                break
        if k >= 1:
            return n
    raise ConversionError("no input length fits every layer")


def test_inputs(features, steps, mask_value, lmin=1, seed=2026):
    """Seeded inputs with several lengths; padding holds the mask value (what a Keras model receives)."""
    rng = np.random.default_rng(seed)
    B = 4
    steps = max(steps, 2 * lmin)
    lengths = [steps, max(lmin, steps // 2), lmin, max(lmin, steps - 3)]
    x = rng.normal(size=(B, steps, features))
    pad = 0.0 if mask_value is None else mask_value
    for b in range(B):
        x[b, lengths[b]:] = pad
    return x, lengths


# ---------------------------------------------------------------------------------------------------------------
# The ferrum document

def to_ferrum(model_json, weight_files, members_output=False, steps=24, preprocessing=None, metadata=None,
              weights=None):
    layers, features, sequence, mask_value = plan(model_json)
    if not sequence:
        raise ConversionError("the model's input is not a sequence: only sequence models are supported here")
    weights = weights if weights is not None else [read_keras_h5(p) for p in weight_files]
    if not weights:
        raise ConversionError("no weights file given")
    params = [member_parameters(layers, w, p) for w, p in zip(weights, weight_files)]
    N = len(params)
    arch_layers, parameters = [], {}
    outs = []
    for m, ps in enumerate(params):
        prev = "input"
        for i, (l, p) in enumerate(zip(layers, ps)):
            name = f"{i}" if N == 1 else f"m{m}_{i}"
            obj = {k: v for k, v in l.items() if k not in ("keras", "use_bias", "center", "scale", "weights")}
            if obj["type"] in ("dropout", "transformer_encoder_layer"):
                obj["seed"] = 0
            obj.update(p.get("__config__", {}))
            obj["name"], obj["from"] = name, [prev]
            arch_layers.append(obj)
            for k, v in p.items():
                if k != "__config__":
                    parameters[f"{name}.{k}"] = np.asarray(v).tolist()
            prev = name
        outs.append(prev)
    out_width = layers[-1]["out_features"] if layers[-1]["type"] == "dense" else None
    output = outs[0]
    if N > 1:
        arch_layers.append({"type": "concat", "name": "members", "from": outs})
        output = "members"
        if not members_output:
            W = out_width if out_width is not None else _width(layers)
            avg = np.zeros((W, N * W))
            for m in range(N):
                avg[:, m * W:(m + 1) * W] = np.eye(W) / N
            arch_layers.append({"type": "dense", "name": "mean", "from": ["members"], "in_features": N * W,
                                "out_features": W, "activation": "linear"})
            parameters["mean.weight"] = avg.tolist()
            parameters["mean.bias"] = [0.0] * W
            output = "mean"
    x, lengths = test_inputs(features, steps, mask_value, _min_length(layers))
    runs = [torch_member(layers, ps) for ps in params]
    ys = np.stack([r(x, lengths) for r in runs])  # (N, B, W)
    y = ys.mean(axis=0) if (N > 1 and not members_output) else np.concatenate(list(ys), axis=1)
    prep = dict(preprocessing or {})
    prep.setdefault("lengths", "per sample: the number of leading steps kept by the Keras mask"
                    + ("" if mask_value is None else f" (steps where every feature equals {mask_value} are masked; "
                       "ferrum needs them at the end, as Keras' post-padding puts them)"))
    if mask_value is not None:
        prep.setdefault("mask_value", mask_value)
    meta = dict(metadata or {})
    meta.update({"converted_by": "tools/convert_keras.py", "keras_model": model_json.get("config", {}).get("name"),
                 "keras_version": model_json.get("keras_version"), "members": N,
                 "output": "mean of the members" if (N > 1 and not members_output) else
                 ("the members' outputs side by side" if N > 1 else "the model's output")})
    import torch
    meta["test_vectors_by"] = f"PyTorch {torch.__version__} (float64)"
    return {"format": "ferrum.model", "version": 2, "kind": "nn",
            "architecture": {"dtype": "float64", "inputs": [{"name": "input", "features": features, "sequence": True}],
                             "layers": arch_layers, "output": output},
            "parameters": parameters, "preprocessing": prep, "metadata": meta,
            "self_test": [{"inputs": [x.tolist()], "lengths": lengths, "output": y.tolist(), "tolerance": 1e-9}]}


def _width(layers):
    w = None
    for l in layers:
        if l["type"] in ("lstm", "gru"):
            H = l["hidden_sizes"][0]
            w = 2 * H if l.get("merge_mode") == "concat" else H
        elif l["type"] == "dense":
            w = l["out_features"]
    return w


def lands_on_input(out, inputs):
    """Whether OUT resolves to one of the input files: the same path, a symlink or a hard link to it."""
    for p in inputs:
        if os.path.realpath(out) == os.path.realpath(p):
            return True
        if os.path.exists(out) and os.path.exists(p) and os.path.samefile(out, p):
            return True
    return False


def write_atomically(doc, out):
    d = os.path.dirname(os.path.abspath(out))
    with tempfile.NamedTemporaryFile("w", dir=d, delete=False, suffix=".tmp") as f:
        json.dump(doc, f)
        tmp = f.name
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # a normal file's mode, not mkstemp's 0600
    os.replace(tmp, out)


# ---------------------------------------------------------------------------------------------------------------

def self_test():
    """Converts seeded Keras-layout models (tools/make_keras_reference.py) and compares the PyTorch test vectors
    with the NumPy Keras-equation oracle; checks that unsupported layers are refused by name."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_keras_reference as kr
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for cell in ("LSTM", "GRU"):
            for merge in ("concat", "sum", "mul", "ave"):
                mj, files = kr.write_keras_model(d, cell=cell, merge=merge, members=2, seed=11)
                doc = to_ferrum(mj, files)
                tv = doc["self_test"][0]
                x = np.array(tv["inputs"][0])
                want = np.mean([kr.keras_predict(mj, kr.read_weights(f), x) for f in files], axis=0)
                err = np.abs(np.array(tv["output"]) - want).max()
                print(f"{cell:4s} Bidirectional({merge:6s}) x2 members: PyTorch vs NumPy Keras max |diff| {err:.1e}")
                ok &= err < 1e-12
        mj, files = kr.write_keras_model(d, cell="GRU", merge="ave", members=1, seed=5, style="sequential")
        tv = to_ferrum(mj, files)["self_test"][0]
        err = np.abs(np.array(tv["output"]) - kr.keras_predict(mj, kr.read_weights(files[0]), np.array(tv["inputs"][0]))).max()
        print(f"Sequential with Masking, GRU Bidirectional(ave), 1 member: max |diff| {err:.1e}")
        ok &= err < 1e-12
        mj, files = kr.write_keras_model(d, cell="LSTM", merge="concat", members=1, seed=3)
        bad = json.loads(json.dumps(mj))
        bad["config"]["layers"].insert(-1, {"class_name": "Conv2D", "name": "conv_x", "config": {"name": "conv_x"},
                                             "inbound_nodes": bad["config"]["layers"][-1]["inbound_nodes"]})
        bad["config"]["layers"][-1]["inbound_nodes"] = [[["conv_x", 0, 0, {}]]]
        for label, m, want in (("Conv2D", bad, "unsupported Keras layer 'conv_x' (Conv2D)"),):
            try:
                to_ferrum(m, files)
                print(f"{label}: not refused")
                ok = False
            except ConversionError as e:
                print(f"{label}: refused: {e}")
                ok &= want in str(e)
        cj, cfiles = kr.write_keras_conv_model(d, members=2, seed=4)
        tv = to_ferrum(cj, cfiles)["self_test"][0]
        x = np.array(tv["inputs"][0])
        want = np.mean([kr.keras_predict_each(cj, kr.read_weights(f), x, tv["lengths"]) for f in cfiles], axis=0)
        err = np.abs(np.array(tv["output"]) - want).max()
        print(f"Conv1D (causal, same, valid), BatchNormalization, pooling, LayerNormalization, MultiHeadAttention x2 "
              f"members: max |diff| {err:.1e}")
        ok &= err < 1e-12
        refusals = []
        masked = json.loads(json.dumps(cj))
        masked["config"]["layers"].insert(1, {"class_name": "Masking", "name": "masking", "config": {
            "name": "masking", "mask_value": -1.0}, "inbound_nodes": [[["curve", 0, 0, {}]]]})
        masked["config"]["layers"][2]["inbound_nodes"] = [[["masking", 0, 0, {}]]]
        refusals.append(("Conv1D after Masking", masked, "does not support masking"))
        strided = json.loads(json.dumps(cj))
        strided["config"]["layers"][4]["config"]["strides"] = [2]
        refusals.append(("Conv1D same, stride 2", strided, "padding='same' with strides 2"))
        cross = json.loads(json.dumps(cj))
        cross["config"]["layers"][6]["inbound_nodes"][0][0][3]["value"] = ["conv_2", 0, 0]
        refusals.append(("cross-attention", cross, "query, key and value differ"))
        for label, m, want in refusals:
            try:
                to_ferrum(m, cfiles)
                print(f"{label}: not refused")
                ok = False
            except ConversionError as e:
                print(f"{label}: refused: {e}")
                ok &= want in str(e)
        hs = json.loads(json.dumps(mj))
        for l in hs["config"]["layers"]:
            if l["class_name"] == "Bidirectional":
                l["config"]["layer"]["config"]["recurrent_activation"] = "hard_sigmoid"
        try:
            to_ferrum(hs, files)
            ok = False
        except ConversionError as e:
            print(f"hard_sigmoid: refused: {e}")
            ok &= "hard_sigmoid" in str(e)
    print("self-test", "passed" if ok else "FAILED")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="MODEL.json WEIGHTS.h5 [WEIGHTS.h5 ...] OUT.json")
    ap.add_argument("--members", action="store_true", help="output every member's prediction instead of the mean")
    ap.add_argument("--steps", type=int, default=24, help="steps of the embedded test sequences")
    ap.add_argument("--preprocessing", help="a JSON file stored as the model's 'preprocessing'")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        sys.exit(0 if self_test() else 1)
    if len(a.files) < 3:
        ap.error("give MODEL.json, at least one WEIGHTS.h5 and OUT.json")
    model_path, weight_files, out = a.files[0], a.files[1:-1], a.files[-1]
    if lands_on_input(out, a.files[:-1]):
        ap.error("OUT.json would overwrite an input")
    try:
        with open(model_path) as f:
            mj = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"convert_keras.py: {model_path}: {e}")
    prep = None
    if a.preprocessing:
        with open(a.preprocessing) as f:
            prep = json.load(f)
    try:
        doc = to_ferrum(mj, weight_files, a.members, a.steps, prep, {"keras_files": [os.path.basename(p) for p in
                                                                                     [model_path] + weight_files]})
    except (ConversionError, KeyError) as e:
        sys.exit(f"convert_keras.py: {model_path}: {e}")
    write_atomically(doc, out)
    if not a.quiet:
        print(f"wrote {out}: {doc['metadata']['members']} member(s), {len(doc['architecture']['layers'])} layers",
              file=sys.stderr)


if __name__ == "__main__":
    main()
