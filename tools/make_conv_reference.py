#!/usr/bin/python3
"""Oracle vectors for ferrum's convolutional layers (tests/test_conv_layers.cpp), computed by PyTorch 1.13.

Layers: conv1d (valid, same, causal; stride, dilation, bias), batch_norm (training and inference
statistics, running-statistics update, per-chunk statistics), max/avg pooling over time (with and without
padding) and global
average/max pooling. Inputs are ragged batches [batch, time, channels]: padded steps hold random values,
which a correct layer ignores. PyTorch computes each sample on its own valid steps alone (conv, pooling)
or normalises over the valid steps of all samples together (batch_norm), so the oracle is "the sequence
cut at its length". For each case: parameters, output (zero past each sample's output length), and for the
loss sum(output * grad_output) every parameter gradient and dx. Double precision.
Run: /usr/bin/python3 tools/make_conv_reference.py [--seed N] [--out tests/data/reference/conv_layers.json]
"""
import argparse
import json

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def flat(t):
    return [float("%.17g" % v) for v in t.detach().reshape(-1).tolist()]


def out_steps(n, kernel, stride, dilation, pad_left, pad_right):
    span = dilation * (kernel - 1) + 1
    padded = n + pad_left + pad_right
    return 0 if padded < span else (padded - span) // stride + 1


def per_sample(fn, x, lengths, steps_of):
    """Runs fn on each sample's valid steps alone ((1, C, L) layout); zero-pads the outputs to the batch's."""
    B, S, _ = x.shape
    So = steps_of(S)
    outs = []
    for b in range(B):
        y = fn(x[b:b + 1, :lengths[b]].transpose(1, 2)).transpose(1, 2)[0]  # (L_out, C_out)
        assert y.shape[0] == steps_of(lengths[b])
        outs.append(torch.cat([y, y.new_zeros(So - y.shape[0], y.shape[1])]))
    return torch.stack(outs)


def finish(kind, config, x, y, out_lengths, params, lengths, extra=None):
    mask = (torch.arange(y.shape[1]).unsqueeze(0) < torch.tensor(out_lengths).unsqueeze(1)).unsqueeze(-1)
    g = torch.randn_like(y) * mask
    (y * g).sum().backward()
    case = {"type": kind, "config": config, "shape": list(x.shape), "lengths": lengths, "x": flat(x),
            "output_shape": list(y.shape), "output": flat(y), "grad_output": flat(g), "dx": flat(x.grad),
            "params": [{"name": n, "shape": list(p.shape), "value": flat(p), "grad": flat(p.grad)}
                       for n, p in params]}
    case.update(extra or {})
    return case


def conv_case(B, S, C, lengths, out, kernel, padding, stride, dilation, bias):
    conv = torch.nn.Conv1d(C, out, kernel, stride=stride, dilation=dilation, bias=bias)
    total = dilation * (kernel - 1)
    pads = {"valid": (0, 0), "same": (total // 2, total - total // 2), "causal": (total, 0)}[padding]
    x = torch.randn(B, S, C, requires_grad=True)
    steps = lambda n: out_steps(n, kernel, stride, dilation, *pads)
    y = per_sample(lambda s: conv(F.pad(s, pads)), x, lengths, steps)
    cfg = {"in_channels": C, "out_channels": out, "kernel_size": kernel, "stride": stride, "dilation": dilation,
           "padding": padding, "bias": bias}
    return finish("conv1d", cfg, x, y, [steps(n) for n in lengths], list(conv.named_parameters()), lengths)


def pool_case(kind, B, S, C, lengths, kernel, stride, padding=0):
    pool = (torch.nn.MaxPool1d if kind == "max_pool1d" else torch.nn.AvgPool1d)(kernel, stride, padding)
    x = torch.randn(B, S, C, requires_grad=True)
    steps = lambda n: out_steps(n, kernel, stride, 1, padding, padding)
    y = per_sample(pool, x, lengths, steps)
    cfg = {"kernel_size": kernel, "stride": stride}
    if padding:
        cfg["padding"] = padding
    return finish(kind, cfg, x, y, [steps(n) for n in lengths], [], lengths)


def global_case(kind, B, S, C, lengths):
    x = torch.randn(B, S, C, requires_grad=True)
    op = (lambda s: s.mean(dim=0)) if kind == "global_average_pooling" else (lambda s: s.amax(dim=0))
    y = torch.stack([op(x[b, :lengths[b]]) for b in range(B)])  # (B, C): a table
    g = torch.randn_like(y)
    (y * g).sum().backward()
    return {"type": kind, "config": {}, "shape": [B, S, C], "lengths": lengths, "x": flat(x),
            "output_shape": list(y.shape), "output": flat(y), "grad_output": flat(g), "dx": flat(x.grad),
            "params": []}


def bn_case(B, S, C, lengths, training, chunk_size=None):
    """BatchNorm1d over the valid steps of every sample ([N, C] rows); with chunk_size, each chunk of
    chunk_size samples is normalised alone (ferrum's per-chunk statistics) while the running statistics
    are PyTorch's update from the whole batch."""
    bn = torch.nn.BatchNorm1d(C, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.add_(0.3 * torch.randn(C))
        bn.bias.add_(0.3 * torch.randn(C))
        if not training:
            bn.running_mean.copy_(torch.randn(C))
            bn.running_var.copy_(torch.rand(C) + 0.5)
            bn.num_batches_tracked.fill_(7)
    cfg = {"channels": C, "eps": 1e-5, "momentum": 0.1, "running_mean": flat(bn.running_mean),
           "running_var": flat(bn.running_var), "num_batches_tracked": int(bn.num_batches_tracked)}
    x = torch.randn(B, S, C, requires_grad=True)
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    bn.train(training)
    y = torch.zeros(B, S, C)
    chunks = [list(range(B))] if chunk_size is None else [list(range(i, min(i + chunk_size, B)))
                                                          for i in range(0, B, chunk_size)]
    for rows in chunks:
        sel = torch.zeros(B, S, dtype=torch.bool)
        sel[rows] = mask[rows]
        y = y.index_put((sel,), bn(x[sel]))
    extra = {}
    if training:
        with torch.no_grad():  # PyTorch's running update from the whole batch
            ref = torch.nn.BatchNorm1d(C, momentum=0.1)
            ref.train()
            ref(x[mask])
        extra = {"running_mean_after": flat(ref.running_mean), "running_var_after": flat(ref.running_var)}
        if chunk_size is not None:
            extra["chunk_size"] = chunk_size
    return finish("batch_norm", cfg, x, y, lengths, list(bn.named_parameters()), lengths,
                  dict(extra, training=training))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--out", default="tests/data/reference/conv_layers.json")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    B, S, C = 3, 9, 4
    lengths = [9, 7, 5]
    cases = [
        conv_case(B, S, C, lengths, 5, 3, "valid", 1, 1, True),
        conv_case(B, S, C, lengths, 3, 3, "valid", 2, 2, True),
        conv_case(B, S, C, lengths, 5, 4, "same", 1, 2, False),
        conv_case(B, S, C, lengths, 5, 5, "same", 1, 1, True),
        conv_case(B, S, C, lengths, 4, 3, "causal", 2, 1, True),
        conv_case(B, S, C, lengths, 3, 2, "causal", 1, 3, True),
        bn_case(B, S, C, lengths, True),
        bn_case(B, S, C, lengths, False),
        bn_case(B, S, C, lengths, True, chunk_size=2),
        pool_case("max_pool1d", B, S, C, lengths, 2, 2),
        pool_case("max_pool1d", B, S, C, lengths, 3, 1),
        pool_case("avg_pool1d", B, S, C, lengths, 3, 2),
        global_case("global_average_pooling", B, S, C, lengths),
        global_case("global_max_pooling", B, S, C, lengths),
        # padded windows (InceptionTime's max-pool branch: kernel 3, stride 1, padding 1); appended last, so
        # the cases above keep their random draws
        pool_case("max_pool1d", B, S, C, lengths, 3, 1, 1),
        pool_case("max_pool1d", B, S, C, lengths, 5, 2, 2),
        pool_case("avg_pool1d", B, S, C, lengths, 3, 1, 1),
    ]
    out = {"generator": "tools/make_conv_reference.py", "torch": torch.__version__, "seed": a.seed,
           "loss": "sum(output * grad_output); grad_output and output are zero past each sample's output length",
           "cases": cases}
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
