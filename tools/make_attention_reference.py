#!/usr/bin/python3
"""Oracle vectors for ferrum's attention layers (tests/test_attention_layers.cpp), computed by PyTorch 1.13.

For each layer: a small ragged batch (per-sample lengths; padded steps hold random values, which a correct
layer ignores), the layer's parameters, its output (zero at padded steps), and for the loss
sum(output * grad_output) (grad_output zero at padded steps) every parameter gradient and dx. Double precision.
Run: /usr/bin/python3 tools/make_attention_reference.py [--seed N] [--out tests/data/reference/attention_layers.json]
"""
import argparse
import json
import math

import torch

torch.set_default_dtype(torch.float64)


class Pooling(torch.nn.Module):
    """Attention pooling as ferrum::nn::attention_pooling: additive v^T tanh(W x + b) or dot q^T x / sqrt(F)."""

    def __init__(self, features, score, attention):
        super().__init__()
        self.score = score
        if score == "additive":
            self.proj = torch.nn.Linear(features, attention)
            self.v = torch.nn.Parameter(torch.randn(attention))
        else:
            self.query = torch.nn.Parameter(torch.randn(features))

    def forward(self, x, mask):
        if self.score == "additive":
            e = torch.tanh(self.proj(x)) @ self.v
        else:
            e = x @ self.query / math.sqrt(x.shape[-1])
        e = e.masked_fill(~mask, float("-inf"))
        a = torch.softmax(e, dim=1)
        return (a.unsqueeze(-1) * x).sum(dim=1)


class Sinusoidal(torch.nn.Module):
    """The PyTorch tutorial's PositionalEncoding (Vaswani et al. 2017, 3.5) without dropout, batch first."""

    def __init__(self, d, max_len=64):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, d)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, x, mask):
        return x + self.pe[: x.shape[1]]


class Learned(torch.nn.Module):
    def __init__(self, max_len, d):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(max_len, d) * 0.3)

    def forward(self, x, mask):
        return x + self.weight[: x.shape[1]]


class Wrap(torch.nn.Module):
    """Calls a torch.nn module on a batch-first sequence with the key padding mask where it takes one."""

    def __init__(self, kind, module):
        super().__init__()
        self.kind, self.m = kind, module

    def forward(self, x, mask):
        if self.kind == "multi_head_attention":
            return self.m(x, x, x, key_padding_mask=~mask, need_weights=False)[0]
        if self.kind == "transformer_encoder_layer":
            return self.m(x, src_key_padding_mask=~mask)
        return self.m(x)


def flat(t):
    return [float("%.17g" % v) for v in t.detach().reshape(-1).tolist()]


def case(kind, config, module, B, S, F, lengths, sequence_out=True):
    # perturb every parameter away from its default so no gradient is trivially zero or one
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.add_(0.3 * torch.randn_like(p))
    module.train()  # dropout 0: training mode only keeps PyTorch off its inference fast path
    x = torch.randn(B, S, F, requires_grad=True)
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # True: valid step
    y = module(x, mask)
    if sequence_out:
        y = y * mask.unsqueeze(-1)
    g = torch.randn_like(y)
    if sequence_out:
        g = g * mask.unsqueeze(-1)
    (y * g).sum().backward()
    params = [{"name": n.removeprefix("m."), "shape": list(p.shape), "value": flat(p), "grad": flat(p.grad)}
              for n, p in module.named_parameters()]
    return {"type": kind, "config": config, "shape": [B, S, F], "lengths": lengths, "x": flat(x),
            "output_shape": list(y.shape), "output": flat(y), "grad_output": flat(g), "dx": flat(x.grad),
            "params": params}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--out", default="tests/data/reference/attention_layers.json")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    B, S, F = 3, 6, 8
    lengths = [6, 3, 1]
    nn = torch.nn
    cases = [
        case("layer_norm", {"features": F, "eps": 1e-5}, Wrap("layer_norm", nn.LayerNorm(F)), B, S, F, lengths),
        case("gelu", {}, Wrap("gelu", nn.GELU()), B, S, F, lengths),
        case("attention_pooling", {"features": F, "score": "additive", "attention_size": 5},
             Pooling(F, "additive", 5), B, S, F, lengths, sequence_out=False),
        case("attention_pooling", {"features": F, "score": "dot", "attention_size": 0}, Pooling(F, "dot", 0), B, S,
             F, lengths, sequence_out=False),
        case("multi_head_attention", {"embed_dim": F, "num_heads": 2},
             Wrap("multi_head_attention", nn.MultiheadAttention(F, 2, batch_first=True)), B, S, F, lengths),
        case("sinusoidal_positional_encoding", {"features": F}, Sinusoidal(F), B, S, F, lengths),
        case("learned_positional_encoding", {"max_len": 10, "features": F}, Learned(10, F), B, S, F, lengths),
    ]
    for act, norm_first in (("relu", False), ("gelu", True)):
        cfg = {"d_model": F, "nhead": 2, "dim_feedforward": 8, "dropout": 0.0, "activation": act,
               "norm_first": norm_first, "layer_norm_eps": 1e-5}
        m = nn.TransformerEncoderLayer(F, 2, 8, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first)
        cases.append(case("transformer_encoder_layer", cfg, Wrap("transformer_encoder_layer", m), B, S, F, lengths))
    out = {"generator": "tools/make_attention_reference.py", "torch": torch.__version__, "seed": a.seed,
           "loss": "sum(output * grad_output); grad_output and output are zero at padded steps", "cases": cases}
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
