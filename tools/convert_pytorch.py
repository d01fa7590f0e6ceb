#!/usr/bin/env python3
"""Convert a PyTorch model into a ferrum model file (docs/nn.md, "Import from PyTorch").

Two inputs are accepted, the two things a PyTorch 1.13-2.x user has:

  * a whole nn.Sequential: `torch.save(model, "m.pt")` (a pickled module) or a TorchScript file
    (`torch.jit.script(model).save("m.pt")`; a traced file keeps no hyperparameters and is refused with that
    reason); the module types and hyperparameters are read
    from the children and the model itself computes the test vectors;
  * a `state_dict` (`torch.save(model.state_dict(), "w.pt")`) plus a small JSON description of the forward
    pass, for models that are not an nn.Sequential (every model with an nn.LSTM/GRU/MultiheadAttention, whose
    forward returns tuples):

      {"input": {"features": 2, "sequence": true},
       "layers": [{"module": "LSTM", "prefix": "rnn", "output": "h_n",
                   "args": {"input_size": 2, "hidden_size": 16, "num_layers": 2, "bidirectional": true,
                            "batch_first": true}},
                  {"module": "Dropout", "args": {"p": 0.1}},
                  {"module": "Linear", "prefix": "head", "args": {"in_features": 32, "out_features": 1}}]}

    "module" is a torch.nn class name, "args" its constructor arguments, "prefix" the attribute name the module
    has in the model (the state_dict keys "<prefix>.<name>"). Models that are not a chain (ResNet and
    InceptionTime: branches, a residual sum) name their nodes: an entry may have "name" (default: its prefix)
    and "from" (a node name or a list; default: the entry before; "input" is the model's input), and entries
    {"op": "add" | "concat", "name": ..., "from": [...]} sum nodes of one shape element-wise (h + shortcut) or
    join them along the features (torch.cat over the channels); the last entry is the output. Each module is built by PyTorch from "args" and
    loads its part of the state_dict with strict=True (so a shape or a key that does not fit is PyTorch's own
    error, named); keys no layer uses are refused. Recurrent layers say which output the model uses:
    "sequence" (the output sequence) or "h_n" (the last layer's final state; for bidirectional layers
    torch.cat([h_n[-2], h_n[-1]], -1), which is NOT out[:, -1] for the reverse direction).

The layers are listed in the order the forward pass applies them; ferrum takes every sequence as (batch, time,
features), so the permutes a PyTorch model needs around nn.Conv1d / BatchNorm1d / pooling ((batch, channels,
time)) are implied. A whole nn.Sequential that starts with a convolution takes (batch, channels, time) in
PyTorch: give ferrum the transpose.

Supported modules: Linear, ReLU, Tanh, Sigmoid, Softplus (beta 1), GELU (approximate='none'), Identity,
Dropout, LSTM and GRU (any num_layers, bidirectional, batch_first, bias; a stacked layer's inter-layer dropout
becomes ferrum dropout layers between single layers), Conv1d (groups 1, zero padding that is 'valid', 'same'
or symmetric 'same' written as an int), BatchNorm1d (running statistics; sequences or tables), MaxPool1d and
AvgPool1d (padding up to kernel_size // 2, count_include_pad; no ceil_mode), AdaptiveAvgPool1d(1) / AdaptiveMaxPool1d(1) (+ Flatten) as global
pooling, LayerNorm over the features, MultiheadAttention (self-attention, packed in_proj, with bias, no
bias_kv / zero_attn) and TransformerEncoderLayer / TransformerEncoder (relu or gelu, pre- or post-norm).
Anything else is refused with the module's name and type.

Masks: ferrum runs a padded batch with one length per sample and computes each sample as if it were cut at its
length (nn.utils.rnn.pack_padded_sequence for recurrent layers, key_padding_mask for attention, a convolution's
taps and pooling windows never read past the length). The test vectors are therefore computed by PyTorch
(float64) on each sample alone, truncated to its length, and ferrum::nn::load_model(path, verify=true) re-checks
them against the padded batch.

usage:
  convert_pytorch.py MODEL.pt OUT.json [--table|--sequence] [--features F] [--steps 24] [--preprocessing p.json]
  convert_pytorch.py STATE_DICT.pt --architecture arch.json OUT.json [...]
  convert_pytorch.py --self-test
"""
import argparse, json, os, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_keras import lands_on_input, write_atomically  # noqa: E402  (one copy of each)


class ConversionError(Exception):
    pass


def _torch():
    import torch
    return torch


# ---------------------------------------------------------------------------------------------------------------
# Module -> ferrum layer ("ops": the ferrum layer config, its parameters, and how PyTorch runs it)

ACTS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Softplus": "softplus"}
CHANNELS_FIRST = ("Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d")
SUPPORTED = ("Linear, ReLU, Tanh, Sigmoid, Softplus, GELU, Identity, Dropout, LSTM, GRU, Conv1d, BatchNorm1d, "
             "MaxPool1d, AvgPool1d, AdaptiveAvgPool1d(1), AdaptiveMaxPool1d(1), Flatten (after global pooling), "
             "LayerNorm, MultiheadAttention, TransformerEncoderLayer, TransformerEncoder")


def _np(t):
    return t.detach().cpu().double().numpy()


def _op(layer, params, run, seq_out, width):
    return {"layer": layer, "params": {k: _np(v) if not isinstance(v, np.ndarray) else v for k, v in params.items()},
            "run": run, "seq": seq_out, "width": width}


def _rnn_ops(m, name, cls, seq, width, output):
    torch = _torch()
    if not seq:
        raise ConversionError(f"module '{name}' ({cls}) needs a sequence input")
    if cls == "LSTM" and getattr(m, "proj_size", 0):
        raise ConversionError(f"module '{name}' (LSTM): proj_size={m.proj_size} is not supported")
    if m.input_size != width:
        raise ConversionError(f"module '{name}' ({cls}): input_size {m.input_size}, but the layer before gives {width}")
    if output not in ("sequence", "h_n"):
        raise ConversionError(f"module '{name}' ({cls}): output {output!r}: give \"sequence\" or \"h_n\" (the model's use "
                              "of out[:, -1] equals h_n only for a unidirectional layer on full-length input)")
    H, L, bi = m.hidden_size, m.num_layers, bool(m.bidirectional)
    sd = {k: v for k, v in m.state_dict().items()}
    G = 4 if cls == "LSTM" else 3

    def tensors(k):
        out = {}
        for d in ([""] + (["_reverse"] if bi else [])):
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                key = f"{w}_l{k}{d}"
                if key in sd:
                    out[key] = _np(sd[key])
                else:  # bias=False: zero biases
                    out[key] = np.zeros(G * H)
        return out
    groups = [list(range(L))] if (m.dropout == 0 or L == 1) else [[k] for k in range(L)]
    ops = []
    for gi, ks in enumerate(groups):
        p = {}
        for j, k in enumerate(ks):
            for key, v in tensors(k).items():
                p[key.replace(f"_l{k}", f"_l{j}")] = v
        last = gi == len(groups) - 1
        rs = (output == "sequence") or not last
        layer = {"type": cls.lower(), "input_size": width, "hidden_sizes": [H] * len(ks), "return_sequences": rs}
        if bi:
            layer["bidirectional"], layer["merge_mode"] = True, "concat"
        sub = type(m)(width, H, num_layers=len(ks), bidirectional=bi, batch_first=True).double()
        with torch.no_grad():
            for key, v in p.items():
                getattr(sub, key).copy_(torch.from_numpy(v))

        def run(h, sub=sub, rs=rs, cls=cls, bi=bi):
            y, hn = sub(h)
            if rs:
                return y
            hn = hn[0] if cls == "LSTM" else hn
            return torch.cat([hn[-2], hn[-1]], -1) if bi else hn[-1]
        width = 2 * H if bi else H
        ops.append(_op(layer, p, run, rs, width))
        if not last:
            ops.append(_op({"type": "dropout", "rate": float(m.dropout), "seed": 0}, {}, lambda h: h, True, width))
    return ops


def _mha_check(m, name):
    if not getattr(m, "_qkv_same_embed_dim", True) or m.in_proj_weight is None:
        raise ConversionError(f"module '{name}' (MultiheadAttention): kdim/vdim differ from embed_dim (separate q/k/v "
                              "projections are not supported)")
    if m.in_proj_bias is None or m.out_proj.bias is None:
        raise ConversionError(f"module '{name}' (MultiheadAttention): bias=False is not supported")
    if m.bias_k is not None or m.add_zero_attn:
        raise ConversionError(f"module '{name}' (MultiheadAttention): add_bias_kv / add_zero_attn are not supported")


def _encoder_activation(m, name):
    torch = _torch()
    F = torch.nn.functional
    a = m.activation
    if a is F.relu or isinstance(a, torch.nn.ReLU):
        return "relu"
    if a is F.gelu or (isinstance(a, torch.nn.GELU) and getattr(a, "approximate", "none") == "none"):
        return "gelu"
    raise ConversionError(f"module '{name}' (TransformerEncoderLayer): activation {a!r} is not supported (relu, gelu)")


def module_ops(m, name, seq, width, output=None, in_sequential=False):
    """The ferrum layers of one torch module, given whether its input is a sequence and its feature width."""
    torch = _torch()
    nn = torch.nn
    cls = type(m).__name__
    if isinstance(m, torch.jit.ScriptModule):
        cls = m.original_name
        raise ConversionError(f"module '{name}' ({cls}) is TorchScript: load TorchScript files with load_torchscript")

    def same(h):
        return h
    if isinstance(m, nn.Identity):
        return []
    if isinstance(m, nn.Dropout) and type(m) is nn.Dropout:
        return [_op({"type": "dropout", "rate": float(m.p), "seed": 0}, {}, same, seq, width)]
    if cls in ACTS and type(m) in (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Softplus):
        if cls == "Softplus" and (m.beta != 1 or m.threshold != 20):
            raise ConversionError(f"module '{name}' (Softplus): beta={m.beta}, threshold={m.threshold} (only 1, 20)")
        return [_op({"type": "activation", "activation": ACTS[cls]}, {}, lambda h, m=m: m(h), seq, width)]
    if type(m) is nn.GELU:
        if getattr(m, "approximate", "none") != "none":
            raise ConversionError(f"module '{name}' (GELU): approximate='{m.approximate}' is not supported (exact erf form only)")
        return [_op({"type": "gelu"}, {}, lambda h, m=m: m(h), seq, width)]
    if type(m) is nn.Linear:
        if m.in_features != width:
            raise ConversionError(f"module '{name}' (Linear): in_features {m.in_features}, the layer before gives {width}")
        b = m.bias if m.bias is not None else torch.zeros(m.out_features, dtype=torch.float64)
        return [_op({"type": "dense", "in_features": m.in_features, "out_features": m.out_features,
                     "activation": "linear"}, {"weight": m.weight, "bias": b}, lambda h, m=m: m(h), seq, m.out_features)]
    if type(m) in (nn.LSTM, nn.GRU):
        if in_sequential:
            raise ConversionError(f"module '{name}' ({cls}) returns a tuple, so it cannot run inside an nn.Sequential: "
                                  "describe the model with --architecture (a JSON file) and convert its state_dict")
        return _rnn_ops(m, name, cls, seq, width, output or "h_n")
    if type(m) is nn.Conv1d:
        if not seq:
            raise ConversionError(f"module '{name}' (Conv1d) needs a sequence input")
        k, s, d = m.kernel_size[0], m.stride[0], m.dilation[0]
        if m.groups != 1 or m.padding_mode != "zeros":
            raise ConversionError(f"module '{name}' (Conv1d): groups={m.groups}, padding_mode='{m.padding_mode}' are not "
                                  "supported (groups 1, zero padding)")
        if m.in_channels != width:
            raise ConversionError(f"module '{name}' (Conv1d): in_channels {m.in_channels}, the layer before gives {width}")
        p = m.padding if isinstance(m.padding, str) else m.padding[0]
        if p in ("valid", 0):
            pad = "valid"
        elif p == "same" or (s == 1 and 2 * p == d * (k - 1)):
            pad = "same"
        else:
            raise ConversionError(f"module '{name}' (Conv1d): padding={m.padding} with kernel {k}, stride {s}, dilation {d} "
                                  "is not supported (0/'valid', 'same', or the int that gives 'same' at stride 1)")
        p = {"weight": m.weight}
        if m.bias is not None:
            p["bias"] = m.bias
        layer = {"type": "conv1d", "in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": k,
                 "stride": s, "dilation": d, "padding": pad, "bias": m.bias is not None}
        return [_op(layer, p, lambda h, m=m: m(h.transpose(1, 2)).transpose(1, 2), True, m.out_channels)]
    if type(m) is nn.BatchNorm1d:
        if not m.track_running_stats or m.running_mean is None:
            raise ConversionError(f"module '{name}' (BatchNorm1d): track_running_stats=False normalises with batch "
                                  "statistics at inference (not supported)")
        if m.num_features != width:
            raise ConversionError(f"module '{name}' (BatchNorm1d): num_features {m.num_features}, the layer before gives {width}")
        C = m.num_features
        w = m.weight if m.affine else torch.ones(C, dtype=torch.float64)
        b = m.bias if m.affine else torch.zeros(C, dtype=torch.float64)
        layer = {"type": "batch_norm", "channels": C, "eps": float(m.eps),
                 "momentum": float(m.momentum) if m.momentum is not None else 0.1,
                 "running_mean": _np(m.running_mean).tolist(), "running_var": _np(m.running_var).tolist(),
                 "num_batches_tracked": int(m.num_batches_tracked)}
        run = (lambda h, m=m: m(h.transpose(1, 2)).transpose(1, 2)) if seq else (lambda h, m=m: m(h))
        return [_op(layer, {"weight": w, "bias": b}, run, seq, width)]
    if type(m) in (nn.MaxPool1d, nn.AvgPool1d):
        if not seq:
            raise ConversionError(f"module '{name}' ({cls}) needs a sequence input")
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        s = m.stride if isinstance(m.stride, int) else m.stride[0]
        pad = m.padding if isinstance(m.padding, int) else m.padding[0]
        dil = getattr(m, "dilation", 1)
        if m.ceil_mode or dil != 1 or getattr(m, "return_indices", False):
            raise ConversionError(f"module '{name}' ({cls}): ceil_mode, dilation and return_indices are not supported")
        if pad > k // 2 or (pad and not getattr(m, "count_include_pad", True)):
            raise ConversionError(f"module '{name}' ({cls}): padding {pad} is not supported (at most kernel_size // 2; "
                                  "average pooling with count_include_pad=True)")
        layer = {"type": "max_pool1d" if cls == "MaxPool1d" else "avg_pool1d", "kernel_size": k, "stride": s}
        if pad:
            layer["padding"] = pad
        return [_op(layer, {}, lambda h, m=m: m(h.transpose(1, 2)).transpose(1, 2), True, width)]
    if type(m) in (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d):
        osz = m.output_size if isinstance(m.output_size, int) else m.output_size[0]
        if osz != 1 or not seq:
            raise ConversionError(f"module '{name}' ({cls}): only output_size=1 over a sequence (global pooling) is "
                                  "supported")
        t = "global_average_pooling" if cls == "AdaptiveAvgPool1d" else "global_max_pooling"
        return [_op({"type": t}, {}, lambda h, m=m: m(h.transpose(1, 2))[..., 0], False, width)]
    if type(m) is nn.LayerNorm:
        if tuple(m.normalized_shape) != (width,):
            raise ConversionError(f"module '{name}' (LayerNorm): normalized_shape {tuple(m.normalized_shape)}; only the "
                                  f"features ({width},) are supported")
        w = m.weight if m.weight is not None else torch.ones(width, dtype=torch.float64)
        b = getattr(m, "bias", None)
        b = b if b is not None else torch.zeros(width, dtype=torch.float64)
        return [_op({"type": "layer_norm", "features": width, "eps": float(m.eps)}, {"weight": w, "bias": b},
                    lambda h, m=m: m(h), seq, width)]
    if type(m) is nn.MultiheadAttention:
        if in_sequential:
            raise ConversionError(f"module '{name}' (MultiheadAttention) returns a tuple, so it cannot run inside an "
                                  "nn.Sequential: describe the model with --architecture")
        _mha_check(m, name)
        if not seq or m.embed_dim != width:
            raise ConversionError(f"module '{name}' (MultiheadAttention): needs a sequence of {m.embed_dim} features")
        bf = m.batch_first

        def run(h, m=m, bf=bf):
            hh = h if bf else h.transpose(0, 1)
            y = m(hh, hh, hh, need_weights=False)[0]
            return y if bf else y.transpose(0, 1)
        p = {"in_proj_weight": m.in_proj_weight, "in_proj_bias": m.in_proj_bias, "out_proj.weight": m.out_proj.weight,
             "out_proj.bias": m.out_proj.bias}
        return [_op({"type": "multi_head_attention", "embed_dim": m.embed_dim, "num_heads": m.num_heads}, p, run, True,
                    width)]
    if type(m) is nn.TransformerEncoderLayer:
        a = m.self_attn
        _mha_check(a, name + ".self_attn")
        if not seq or a.embed_dim != width:
            raise ConversionError(f"module '{name}' (TransformerEncoderLayer): needs a sequence of {a.embed_dim} features")
        if m.linear1.bias is None or m.norm1.weight is None or getattr(m.norm1, "bias", 0) is None:
            raise ConversionError(f"module '{name}' (TransformerEncoderLayer): bias=False is not supported")
        if in_sequential and not a.batch_first:
            raise ConversionError(f"module '{name}' (TransformerEncoderLayer) in an nn.Sequential must be batch_first=True")
        bf = a.batch_first

        def run(h, m=m, bf=bf):
            y = m(h if bf else h.transpose(0, 1))
            return y if bf else y.transpose(0, 1)
        p = {k: v for k, v in m.state_dict().items()}
        layer = {"type": "transformer_encoder_layer", "d_model": width, "nhead": a.num_heads,
                 "dim_feedforward": m.linear1.out_features, "dropout": float(m.dropout.p),
                 "activation": _encoder_activation(m, name), "norm_first": bool(m.norm_first),
                 "layer_norm_eps": float(m.norm1.eps), "seed": 0}
        if m.norm2.eps != m.norm1.eps:
            raise ConversionError(f"module '{name}' (TransformerEncoderLayer): norm1 and norm2 with different eps")
        return [_op(layer, p, run, True, width)]
    if type(m) is nn.TransformerEncoder:
        ops = []
        for i, l in enumerate(m.layers):
            ops += module_ops(l, f"{name}.layers.{i}", seq, width, in_sequential=in_sequential)
        if m.norm is not None:
            ops += module_ops(m.norm, f"{name}.norm", seq, width)
        return ops
    raise ConversionError(f"unsupported PyTorch module '{name}' ({cls}); supported: {SUPPORTED}")


def _needs_sequence(m):
    torch = _torch()
    nn = torch.nn
    return type(m) in (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d, nn.LSTM,
                       nn.GRU, nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)


def _in_width(m):
    torch = _torch()
    nn = torch.nn
    for attr in ("in_features", "in_channels", "input_size", "num_features", "embed_dim"):
        if hasattr(m, attr) and isinstance(getattr(m, attr), int):
            return getattr(m, attr)
    if type(m) is nn.LayerNorm:
        return m.normalized_shape[-1]
    if type(m) is nn.TransformerEncoderLayer:
        return m.self_attn.embed_dim
    if type(m) is nn.TransformerEncoder:
        return m.layers[0].self_attn.embed_dim
    return None


def sequential_ops(model, features=None, sequence=None):
    """ops of an nn.Sequential, its input width, whether the input is a sequence, and whether PyTorch takes it
    channels-first ((batch, channels, time): the model starts with a convolution, batch norm or pooling)."""
    torch = _torch()
    nn = torch.nn
    if type(model) is not nn.Sequential:
        raise ConversionError(f"the model is a {type(model).__name__}, not an nn.Sequential: save its state_dict and "
                              "describe its forward pass with --architecture")
    mods = list(model.named_children())
    if not mods:
        raise ConversionError("the nn.Sequential is empty")
    if sequence is None:
        sequence = any(_needs_sequence(m) for _, m in mods)
    width = features
    for _, m in mods:
        if width is None:
            width = _in_width(m)
    if width is None:
        raise ConversionError("cannot tell the input's features from the modules: pass --features")
    channels_first = False
    if sequence:
        for _, m in mods:
            if type(m) in (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d,
                           nn.BatchNorm1d):
                channels_first = True
                break
            if _in_width(m) is not None:
                break
    ops, seq, w = [], sequence, width
    cf = channels_first
    prev_global = False
    for name, m in mods:
        if type(m) is nn.Flatten:
            if prev_global:
                continue
            raise ConversionError(f"module '{name}' (Flatten) is supported only after AdaptiveAvg/MaxPool1d(1)")
        if seq and cf and type(m) in (nn.Linear, nn.LayerNorm, nn.TransformerEncoderLayer, nn.TransformerEncoder):
            raise ConversionError(f"module '{name}' ({type(m).__name__}) acts on the time axis of a (batch, channels, "
                                  "time) tensor here: not supported")
        if seq and not cf and type(m) in (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d,
                                          nn.AdaptiveMaxPool1d):
            raise ConversionError(f"module '{name}' ({type(m).__name__}) would read a (batch, time, features) tensor as "
                                  "(batch, channels, time): not supported")
        new = module_ops(m, name, seq, w, in_sequential=True)
        prev_global = type(m) in (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)
        if new:
            seq, w = new[-1]["seq"], new[-1]["width"]
        ops += new
    return ops, width, sequence, channels_first


def architecture_ops(spec, state_dict, where="architecture"):
    """ops of a JSON description (see the module docstring) with the weights of a state_dict. A description
    with "from" or "op" entries gives ops that carry their node "name" and "from" (a graph)."""
    torch = _torch()
    if not isinstance(spec, dict) or "layers" not in spec or "input" not in spec:
        raise ConversionError(f"{where}: needs 'input' and 'layers'")
    unknown = set(spec) - {"input", "layers", "preprocessing"}
    if unknown:
        raise ConversionError(f"{where}: unknown field '{sorted(unknown)[0]}'")
    inp = spec["input"]
    try:
        width, seq = int(inp["features"]), bool(inp.get("sequence", True))
    except (KeyError, TypeError, ValueError):
        raise ConversionError(f"{where}.input: needs 'features' (an integer) and 'sequence'")
    if not isinstance(spec["layers"], list) or not spec["layers"]:
        raise ConversionError(f"{where}.layers: needs a list of layers")
    graph = any(isinstance(l, dict) and ("from" in l or "op" in l) for l in spec["layers"])
    sd = {k: v.detach().double() for k, v in state_dict.items()}
    used = set()
    ops = []
    nodes = {"input": (seq, width)}  # graph: each node's (sequence, features)
    prev = "input"
    for i, l in enumerate(spec["layers"]):
        at = f"{where}.layers[{i}]"
        if not isinstance(l, dict) or ("module" not in l and "op" not in l):
            raise ConversionError(f"{at}: needs 'module' (or 'op')")
        if graph:
            node = l.get("name", l.get("prefix", f"layers[{i}]"))
            if not isinstance(node, str) or node in nodes:
                raise ConversionError(f"{at}: name {node!r} is not a new node name")
            src = l.get("from", prev)
            src = [src] if isinstance(src, str) else src
            if not isinstance(src, list) or not src or any(f not in nodes for f in src):
                raise ConversionError(f"{at}: 'from' {l.get('from')!r} names no earlier node (nodes: "
                                      f"{', '.join(nodes)})")
            seq, width = nodes[src[0]]
        if "op" in l:
            extra = set(l) - {"op", "name", "from"}
            if extra:
                raise ConversionError(f"{at}: unknown field '{sorted(extra)[0]}'")
            if l["op"] not in ("add", "concat") or len(src) < 2:
                raise ConversionError(f"{at}: op {l['op']!r} with {len(src)} input(s): 'add' or 'concat' of two or more")
            shapes = [nodes[f] for f in src]
            if l["op"] == "add" and len(set(shapes)) != 1:
                raise ConversionError(f"{at} (add): its inputs differ in shape ({', '.join(map(str, shapes))})")
            if l["op"] == "concat" and len({q for q, _ in shapes}) != 1:
                raise ConversionError(f"{at} (concat): cannot join a sequence with a table")
            width = width if l["op"] == "add" else sum(w for _, w in shapes)
            ops.append({"layer": {"type": l["op"]}, "params": {}, "run": None, "seq": seq, "width": width,
                        "name": node, "from": src})
            nodes[node], prev = (seq, width), node
            continue
        extra = set(l) - {"module", "prefix", "args", "output", "name", "from"}
        if extra:
            raise ConversionError(f"{at}: unknown field '{sorted(extra)[0]}'")
        cls, args = l["module"], dict(l.get("args", {}))
        name = l.get("prefix", f"layers[{i}]")
        if cls == "TransformerEncoder":
            layer_args = dict(args.pop("layer", {}))
            norm_args = args.pop("norm", None)
            try:
                enc = torch.nn.TransformerEncoderLayer(**layer_args)
                norm = torch.nn.LayerNorm(**norm_args) if norm_args else None
                m = torch.nn.TransformerEncoder(enc, norm=norm, **args)
            except TypeError as e:
                raise ConversionError(f"{at} (TransformerEncoder): {e}")
        else:
            ctor = getattr(torch.nn, cls, None)
            if not isinstance(ctor, type) or not issubclass(ctor, torch.nn.Module):
                raise ConversionError(f"{at}: unsupported PyTorch module '{cls}'; supported: {SUPPORTED}")
            try:
                m = ctor(**args)
            except TypeError as e:
                raise ConversionError(f"{at} ({cls}): {e}")
        m = m.double().eval()
        own = m.state_dict()
        if own:
            if "prefix" not in l:
                raise ConversionError(f"{at} ({cls}): has weights, so it needs 'prefix' (its name in the state_dict)")
            pre = l["prefix"] + "."
            sub = {k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)}
            try:
                m.load_state_dict(sub, strict=True)
            except RuntimeError as e:
                lines = [t.strip() for t in str(e).splitlines() if t.strip()]
                raise ConversionError(f"{at} ({cls}, prefix '{l['prefix']}'): " + " ".join(lines[:2]) +
                                      (f" (and {len(lines) - 2} more)" if len(lines) > 2 else ""))
            used |= {pre + k for k in sub}
        ops_i = module_ops(m, name, seq, width, output=l.get("output"))
        if ops_i:
            seq, width = ops_i[-1]["seq"], ops_i[-1]["width"]
        if graph:  # one node per ferrum layer; the module's last layer carries its name
            if not ops_i:  # Identity: the node is its input
                ops_i = [{"layer": {"type": "activation", "activation": "linear"}, "params": {},
                          "run": lambda h: h, "seq": seq, "width": width}]
            for j, o in enumerate(ops_i):
                o["name"] = node if j == len(ops_i) - 1 else f"{node}_{j}"
                o["from"] = src if j == 0 else [ops_i[j - 1]["name"]]
            nodes[node], prev = (seq, width), node
        ops += ops_i
    left = sorted(set(sd) - used)
    if left:
        raise ConversionError(f"{where}: state_dict key '{left[0]}' is used by no layer ({len(left)} unused)")
    return ops, int(inp["features"]), bool(inp.get("sequence", True))


# ---------------------------------------------------------------------------------------------------------------
# Test vectors and the document

def _steps_after(layer, n):
    t = layer["type"]
    if t == "conv1d":
        span = layer["dilation"] * (layer["kernel_size"] - 1) + 1
        if layer["padding"] == "valid":
            return (n - span) // layer["stride"] + 1 if n >= span else 0
        return (n - 1) // layer["stride"] + 1
    if t in ("max_pool1d", "avg_pool1d"):
        m = n + 2 * layer.get("padding", 0)
        return (m - layer["kernel_size"]) // layer["stride"] + 1 if m >= layer["kernel_size"] else 0
    return n


def _graph(ops):
    return bool(ops) and "from" in ops[0]


def min_length(ops):
    """The shortest sequence every layer can take (a 'valid' span or a pooling window needs its steps)."""
    if _graph(ops):
        for n in range(1, 10000):
            steps, ok = {"input": n}, True
            for o in ops:
                k = steps[o["from"][0]]
                if o["layer"]["type"] in ("add", "concat"):
                    ok = len({steps[f] for f in o["from"]}) == 1
                elif k is not None:
                    k = _steps_after(o["layer"], k)
                    ok = k >= 1
                steps[o["name"]] = k if o["seq"] else None
                if not ok:
                    break
            if ok:
                return n
        raise ConversionError("no input length fits every layer (or the branches of a sum or join differ in steps)")
    for n in range(1, 10000):
        k, ok = n, True
        for o in ops:
            if not o["seq"] and o["layer"]["type"] not in ("global_average_pooling", "global_max_pooling") \
                    and o["layer"]["type"] not in ("lstm", "gru"):
                break
            k = _steps_after(o["layer"], k)
            if k < 1:
                ok = False
                break
        if ok:
            return n
    raise ConversionError("no input length fits every layer")


def test_inputs(features, sequence, steps, lmin, seed=2026):
    rng = np.random.default_rng(seed)
    if not sequence:
        return rng.normal(size=(4, features)), None
    steps = max(steps, 2 * lmin)
    lengths = [steps, max(lmin, steps // 2), lmin, max(lmin, steps - 3)]
    x = rng.normal(size=(4, steps, features))  # the padding holds values too: ferrum never reads them
    return x, lengths


def run_ops(ops, x):
    """ops applied by PyTorch (float64) to one batch x (B, T, F) or (B, F) in ferrum's layout."""
    torch = _torch()
    h = torch.from_numpy(np.asarray(x, dtype=np.float64))
    with torch.no_grad():
        if _graph(ops):
            vals = {"input": h}
            for o in ops:
                ins = [vals[f] for f in o["from"]]
                t = o["layer"]["type"]
                vals[o["name"]] = (sum(ins[1:], ins[0]) if t == "add" else torch.cat(ins, -1) if t == "concat"
                                   else o["run"](ins[0]))
            return vals[ops[-1]["name"]].numpy()
        for o in ops:
            h = o["run"](h)
    return h.numpy()


def per_sample(fn, x, lengths):
    """fn (a batch in ferrum's layout -> outputs) on each sample alone, cut at its length; sequence outputs
    zero-padded to the longest (what ferrum returns at padded steps)."""
    if lengths is None:
        return fn(x)
    outs = [fn(x[b:b + 1, :n]) for b, n in enumerate(lengths)]
    if outs[0].ndim == 2:
        return np.concatenate(outs, axis=0)
    T = max(o.shape[1] for o in outs)
    y = np.zeros((len(outs), T, outs[0].shape[2]))
    for b, o in enumerate(outs):
        y[b, :o.shape[1]] = o[0]
    return y


def to_ferrum(ops, features, sequence, steps=24, reference=None, preprocessing=None, metadata=None):
    """The ferrum model document. `reference`: a function (x in ferrum's layout) -> outputs running the user's own
    model (an nn.Sequential); its per-sample outputs are the test vectors and must agree with the ops'."""
    torch = _torch()
    if not ops:
        raise ConversionError("the model has no layers to convert")
    layers, parameters = [], {}
    prev = "input"
    graph = _graph(ops)
    for i, o in enumerate(ops):
        obj = dict(o["layer"])
        obj["name"], obj["from"] = (o["name"], list(o["from"])) if graph else (str(i), [prev])
        layers.append(obj)
        for k, v in o["params"].items():
            parameters[f"{obj['name']}.{k}"] = np.asarray(v, dtype=np.float64).tolist()
        prev = obj["name"]
    x, lengths = test_inputs(features, sequence, steps, min_length(ops) if sequence else 1)
    y = per_sample(lambda xb: run_ops(ops, xb), x, lengths)
    meta = dict(metadata or {})
    if reference is not None:
        y_ref = per_sample(reference, x, lengths)
        if y_ref.shape != y.shape or not np.allclose(y_ref, y, rtol=1e-9, atol=1e-9):
            raise ConversionError("the model's own forward pass differs from the converted layers (a module is used "
                                  "in a way the converter does not see)")
        y = y_ref
        meta["test_vectors_from"] = "the model's own forward pass"
    else:
        meta["test_vectors_from"] = "torch.nn modules built from the architecture description with the state_dict"
    meta.update({"converted_by": "tools/convert_pytorch.py",
                 "test_vectors_by": f"PyTorch {torch.__version__} (float64, each sample alone cut at its length)"})
    test = {"inputs": [x.tolist()], "output": y.tolist(), "tolerance": 1e-9}
    if lengths is not None:
        test["lengths"] = lengths
    prep = dict(preprocessing or {})
    if sequence:
        prep.setdefault("layout", "(batch, time, features); per-sample lengths: the number of leading valid steps")
    return {"format": "ferrum.model", "version": 2, "kind": "nn",
            "architecture": {"dtype": "float64", "inputs": [{"name": "input", "features": features, "sequence": sequence}],
                             "layers": layers, "output": prev},
            "parameters": parameters, "preprocessing": prep, "metadata": meta, "self_test": [test]}


def load_pytorch_file(path):
    """A module (pickled or TorchScript) or a state_dict from a .pt file."""
    torch = _torch()
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ConversionError(f"{path}: {e}")
    if head[:2] == b"PK":
        try:
            return torch.jit.load(path, map_location="cpu")
        except (RuntimeError, ValueError):
            pass
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # PyTorch < 1.13 has no weights_only
            return torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the file's
        raise ConversionError(f"{path}: not a PyTorch file ({type(e).__name__}: {e})")


def torchscript_to_sequential(sm, path):
    """An eager nn.Sequential rebuilt from a TorchScript nn.Sequential (module types from original_name,
    hyperparameters from the scripted attributes, weights from its state_dict)."""
    torch = _torch()
    if sm.original_name != "Sequential":
        raise ConversionError(f"{path}: a TorchScript '{sm.original_name}', not an nn.Sequential: convert its state_dict "
                              "with --architecture")
    mods = []
    for name, c in sm.named_children():
        cls = c.original_name
        ctor = getattr(torch.nn, cls, None)
        if cls not in SUPPORTED.replace("(1)", "").replace(" (after global pooling)", "").split(", ") or ctor is None:
            raise ConversionError(f"unsupported PyTorch module '{name}' ({cls}); supported: {SUPPORTED}")
        sd = c.state_dict()
        g = lambda a, d=None: getattr(c, a, d)  # noqa: E731
        try:
            if cls == "Linear":
                m = ctor(sd["weight"].shape[1], sd["weight"].shape[0], bias="bias" in sd)
            elif cls == "Conv1d":
                w = sd["weight"]
                m = ctor(w.shape[1] * g("groups"), w.shape[0], w.shape[2], stride=g("stride"), padding=g("padding"),
                         dilation=g("dilation"), groups=g("groups"), bias="bias" in sd, padding_mode=g("padding_mode"))
            elif cls == "BatchNorm1d":
                m = ctor(sd["running_mean"].shape[0], eps=g("eps"), momentum=g("momentum"), affine="weight" in sd)
            elif cls == "LayerNorm":
                m = ctor(list(g("normalized_shape")), eps=g("eps"), elementwise_affine="weight" in sd)
            elif cls in ("MaxPool1d", "AvgPool1d"):
                kw = {"stride": g("stride"), "padding": g("padding"), "ceil_mode": g("ceil_mode")}
                if cls == "MaxPool1d":
                    kw["dilation"] = g("dilation")
                m = ctor(g("kernel_size"), **kw)
            elif cls in ("AdaptiveAvgPool1d", "AdaptiveMaxPool1d"):
                m = ctor(g("output_size"))
            elif cls == "Dropout":
                m = ctor(g("p"))
            elif cls == "Softplus":
                m = ctor(g("beta"), g("threshold"))
            elif cls == "GELU":
                m = ctor(approximate=g("approximate", "none")) if g("approximate") else ctor()
            elif cls == "Flatten":
                m = ctor(g("start_dim"), g("end_dim"))
            elif cls in ("ReLU", "Tanh", "Sigmoid", "Identity"):
                m = ctor()
            else:
                raise ConversionError(f"module '{name}' ({cls}): not supported from TorchScript (save the eager "
                                      "model with torch.save, or its state_dict with --architecture)")
        except ConversionError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ConversionError(f"module '{name}' ({cls}): its hyperparameters are not in the TorchScript file ({e}); "
                                  "a traced module (torch.jit.trace) keeps only its graph: save the model with "
                                  "torch.jit.script or torch.save(model)")
        m = m.double()  # before the weights: a float32 module would round them
        if sd:
            m.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
        mods.append((name, m))
    from collections import OrderedDict
    return torch.nn.Sequential(OrderedDict(mods))


def convert(model_path, out_path=None, architecture=None, features=None, sequence=None, steps=24, preprocessing=None):
    torch = _torch()
    obj = load_pytorch_file(model_path)
    meta = {"pytorch_file": os.path.basename(model_path)}
    if architecture is not None:
        if not isinstance(obj, dict):
            raise ConversionError(f"{model_path}: --architecture needs a state_dict (torch.save(model.state_dict())), "
                                  f"this file holds a {type(obj).__name__}")
        ops, features, sequence = architecture_ops(architecture, obj)
        return to_ferrum(ops, features, sequence, steps, None, preprocessing, meta)
    if isinstance(obj, dict):
        raise ConversionError(f"{model_path}: a state_dict: describe the forward pass with --architecture arch.json")
    scripted = isinstance(obj, torch.jit.ScriptModule)
    model = torchscript_to_sequential(obj, model_path) if scripted else obj
    model = model.double().eval()
    ops, width, seq, cf = sequential_ops(model, features, sequence)
    own = obj if scripted else model
    if scripted:
        own = own.double().eval() if hasattr(own, "double") else own

    def reference(xb):
        h = torch.from_numpy(np.asarray(xb, dtype=np.float64))
        with torch.no_grad():
            y = own(h.transpose(1, 2) if (seq and cf) else h)
        if y.dim() == 3 and cf:
            y = y.transpose(1, 2)
        return y.numpy()
    meta["pytorch_input_layout"] = ("(batch, channels, time): ferrum takes its transpose (batch, time, channels)"
                                    if seq and cf else "as ferrum's")
    return to_ferrum(ops, width, seq, steps, reference, preprocessing, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="MODEL.pt OUT.json")
    ap.add_argument("--architecture", help="JSON description of the forward pass (with a state_dict)")
    ap.add_argument("--features", type=int, help="input features, where the modules do not tell")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--sequence", action="store_true", help="the input is a sequence (batch, time, features)")
    g.add_argument("--table", action="store_true", help="the input is a table (batch, features)")
    ap.add_argument("--steps", type=int, default=24, help="steps of the embedded test sequences")
    ap.add_argument("--preprocessing", help="a JSON file stored as the model's 'preprocessing'")
    ap.add_argument("--self-test", action="store_true", help="run tools/make_pytorch_import_reference.py's checks")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_intermixed_args()
    if a.self_test:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import make_pytorch_import_reference as ref
        sys.exit(0 if ref.self_test() else 1)
    if len(a.files) != 2:
        ap.error("give MODEL.pt and OUT.json")
    src, out = a.files
    if lands_on_input(out, [src] + ([a.architecture] if a.architecture else [])):
        ap.error("OUT.json would overwrite an input")
    try:
        arch = prep = None
        if a.architecture:
            with open(a.architecture) as f:
                arch = json.load(f)
        if a.preprocessing:
            with open(a.preprocessing) as f:
                prep = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"convert_pytorch.py: {e}")
    seq = True if a.sequence else (False if a.table else None)
    try:
        doc = convert(src, out, arch, a.features, seq, a.steps, prep)
    except ConversionError as e:
        sys.exit(f"convert_pytorch.py: {e}" if str(e).startswith(src) else f"convert_pytorch.py: {src}: {e}")
    write_atomically(doc, out)
    if not a.quiet:
        print(f"wrote {out}: {len(doc['architecture']['layers'])} layers", file=sys.stderr)


if __name__ == "__main__":
    main()
