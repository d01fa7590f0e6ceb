#!/usr/bin/python3
"""Oracle vectors for ferrum's LSTM and bidirectional GRU/LSTM layers, computed by PyTorch (1.13) in float64.

Each case: a layer stack, a ragged batch (pack_padded_sequence), the parameters, the output (every step or
each sample's last valid state), and for loss = sum(output * upstream) the gradient of every parameter and of
the input. Bidirectional merge modes (Keras: concat, sum, mul, ave) are computed from PyTorch's two directions:
its forward half at step t, its reverse half at step t (read from each sample's last valid step back to t),
and for the last state h_n of each direction (the reverse one after reading step 0).

Usage: /usr/bin/python3 tools/make_recurrent_reference.py [--seed N] [--out tests/data/reference/recurrent_layers.json]
"""
import argparse
import json

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

B, S, F = 3, 6, 3
LENGTHS = [6, 4, 2]


def run_stack(modules, x, lengths, return_sequences, merge):
    """Chains PyTorch RNN modules (one per ferrum layer); returns the (merged) output."""
    h = x
    for k, m in enumerate(modules):
        packed = pack_padded_sequence(h, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, state = m(packed)
        seq, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
        hn = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, H), in the original batch order
        top = k + 1 == len(modules)
        if merge is None:
            h = seq if (not top or return_sequences) else hn[-1]
            continue
        H = m.hidden_size
        if not top or return_sequences:
            fwd, rev = seq[..., :H], seq[..., H:]
        else:
            fwd, rev = hn[-2], hn[-1]
        h = {"concat": lambda: torch.cat([fwd, rev], dim=-1), "sum": lambda: fwd + rev,
             "mul": lambda: fwd * rev, "ave": lambda: 0.5 * (fwd + rev)}[merge]()
    return h


def ferrum_names(modules):
    """(ferrum parameter name, tensor) in ferrum's storage order: layer k, direction, ih/hh/b_ih/b_hh."""
    out = []
    k = 0
    for m in modules:
        for l in range(m.num_layers):
            for suffix in ([""] + (["_reverse"] if m.bidirectional else [])):
                for base in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
                    out.append((f"{base}_l{k}{suffix}", getattr(m, f"{base}_l{l}{suffix}")))
            k += 1
    return out


def short(t):
    """Inputs with 4 decimals (exact in the file, so the oracle computes from what the tests read)."""
    return torch.round(t * 1e4) / 1e4


def out(t):
    """Results to 13 significant digits (1e-13 relative: far below the 1e-10 tolerance), to keep the file small."""
    return [float(f"{v:.13g}") for v in t.detach().flatten().tolist()]


def make_case(gen, name, cell, hidden, return_sequences, merge, torch_layers=None):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    bi = merge is not None
    modules = []
    if torch_layers:  # one PyTorch module with num_layers (same width; PyTorch's own stacking)
        modules.append(cls(F, hidden[0], num_layers=torch_layers, batch_first=True, bidirectional=bi).double())
    else:
        width = F
        for H in hidden:
            modules.append(cls(width, H, batch_first=True, bidirectional=bi).double())
            width = 2 * H if merge == "concat" else H
    for m in modules:
        for p in m.parameters():
            with torch.no_grad():
                p.copy_(short(torch.empty_like(p).uniform_(-0.6, 0.6, generator=gen)))
    x = short(torch.empty(B, S, F, dtype=torch.float64).uniform_(-1.5, 1.5, generator=gen)).requires_grad_(True)
    y = run_stack(modules, x, LENGTHS, return_sequences, merge)
    upstream = short(torch.empty_like(y).uniform_(-1.0, 1.0, generator=gen))
    (y * upstream).sum().backward()
    params = [{"name": n, "shape": list(p.shape), "value": p.detach().flatten().tolist(),
               "grad": out(p.grad)} for n, p in ferrum_names(modules)]
    return {"name": name, "type": cell, "input_size": F, "hidden_sizes": hidden,
            "return_sequences": return_sequences, "merge_mode": merge, "lengths": LENGTHS,
            "x_shape": list(x.shape), "x": x.detach().flatten().tolist(), "y_shape": list(y.shape),
            "y": out(y), "upstream": upstream.flatten().tolist(),
            "dx": out(x.grad), "params": params}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--out", default="tests/data/reference/recurrent_layers.json")
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(a.seed)
    cases = [
        make_case(gen, "lstm_1layer_sequences", "lstm", [4], True, None),
        make_case(gen, "lstm_2layer_last", "lstm", [4, 3], False, None),
        make_case(gen, "lstm_2layer_sequences", "lstm", [3, 4], True, None),
        make_case(gen, "bigru_concat_sequences", "gru", [4], True, "concat"),
        make_case(gen, "bigru_sum_last", "gru", [4], False, "sum"),
        make_case(gen, "bigru_mul_sequences", "gru", [4], True, "mul"),
        make_case(gen, "bigru_ave_last", "gru", [4], False, "ave"),
        make_case(gen, "bilstm_concat_last", "lstm", [4], False, "concat"),
        make_case(gen, "bilstm_sum_sequences", "lstm", [4], True, "sum"),
        make_case(gen, "bilstm_mul_last", "lstm", [4], False, "mul"),
        make_case(gen, "bilstm_ave_sequences", "lstm", [4], True, "ave"),
        make_case(gen, "bilstm_2layer_concat_sequences", "lstm", [3, 3], True, "concat", torch_layers=2),
        make_case(gen, "bigru_2layer_concat_last", "gru", [3, 3], False, "concat", torch_layers=2),
    ]
    doc = {"generator": "tools/make_recurrent_reference.py", "seed": a.seed, "torch": torch.__version__,
           "loss": "sum(output * upstream); output zero past each sample's length", "cases": cases}
    with open(a.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
