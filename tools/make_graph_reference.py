#!/usr/bin/python3
"""Oracle vectors for ferrum's graph nodes `add` (residual sum) and `concat` of sequences
(tests/test_conv_layers.cpp), computed by PyTorch 1.13.

The graph is an InceptionTime module with a ResNet shortcut, small:
    x (3 channels)
    a = relu(conv1d(3 -> 4, kernel 3, same)(x))
    b = conv1d(3 -> 4, kernel 5, same)(x)
    p = conv1d(3 -> 4, kernel 1)(max_pool1d(kernel 3, stride 1, padding 1)(x))
    c = concat(a, b, p)                       # 12 channels, along features
    h = conv1d(12 -> 5, kernel 3, same)(c)
    s = conv1d(3 -> 5, kernel 1)(x)           # the shortcut
    r = relu(add(h, s, s2)), s2 = conv1d(3 -> 5, kernel 1, no bias)(x)   # a three-input sum
    y = dense(5 -> 2)(global_average_pooling(r))
The input is a ragged batch [batch, time, channels]; PyTorch computes each sample on its own valid steps
alone (the oracle is "the sequence cut at its length"; padded steps hold random values, which a correct
graph ignores). Stored: every parameter (PyTorch names under "<node>."), x, lengths, the output, and for
the loss sum(output * grad_output) dx and every parameter gradient. Double precision.
Run: /usr/bin/python3 tools/make_graph_reference.py [--seed N] [--out tests/data/reference/graph_nodes.json]
"""
import argparse
import json

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def flat(t):
    return [float("%.17g" % v) for v in t.detach().reshape(-1).tolist()]


def same(conv, s):
    """ferrum's (and PyTorch's padding="same") padding: kernel - 1 zeros, the odd one on the right."""
    k = conv.kernel_size[0] - 1
    return conv(F.pad(s, (k // 2, k - k // 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--out", default="tests/data/reference/graph_nodes.json")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    B, S, C = 3, 11, 3
    lengths = [11, 8, 5]
    mods = {
        "a": torch.nn.Conv1d(C, 4, 3), "b": torch.nn.Conv1d(C, 4, 5), "pconv": torch.nn.Conv1d(C, 4, 1),
        "h": torch.nn.Conv1d(12, 5, 3), "s": torch.nn.Conv1d(C, 5, 1), "s2": torch.nn.Conv1d(C, 5, 1, bias=False),
        "out": torch.nn.Linear(5, 2),
    }
    pool = torch.nn.MaxPool1d(3, 1, 1)
    x = torch.randn(B, S, C, requires_grad=True)

    def sample(v):  # v: (1, C, L) -> (1, 2)
        ab = torch.relu(same(mods["a"], v))
        bb = same(mods["b"], v)
        pb = mods["pconv"](pool(v))
        h = same(mods["h"], torch.cat([ab, bb, pb], dim=1))
        r = torch.relu(h + mods["s"](v) + mods["s2"](v))
        return mods["out"](r.mean(dim=2))

    y = torch.cat([sample(x[b:b + 1, :lengths[b]].transpose(1, 2)) for b in range(B)])
    g = torch.randn_like(y)
    (y * g).sum().backward()
    params = [{"name": n + "." + pn, "shape": list(p.shape), "value": flat(p), "grad": flat(p.grad)}
              for n, m in mods.items() for pn, p in m.named_parameters()]
    out = {"generator": "tools/make_graph_reference.py", "torch": torch.__version__, "seed": a.seed,
           "loss": "sum(output * grad_output)", "shape": [B, S, C], "lengths": lengths, "x": flat(x),
           "output_shape": list(y.shape), "output": flat(y), "grad_output": flat(g), "dx": flat(x.grad),
           "params": params}
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
