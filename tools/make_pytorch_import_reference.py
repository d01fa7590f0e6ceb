#!/usr/bin/python3
"""Seeded PyTorch models converted by tools/convert_pytorch.py, and their own outputs, for
tests/test_pytorch_import.cpp.

Five models, saved the way a user saves them and converted from those files:
  pt_conv.json         a pickled nn.Sequential (torch.save(model)): Conv1d 'same' (int padding) -> BatchNorm1d
                       (running statistics) -> ReLU -> MaxPool1d -> Conv1d dilated 'valid' -> AvgPool1d stride 1
                       -> Tanh -> AdaptiveAvgPool1d(1) -> Flatten -> Linear -> Softplus
  pt_script.json       a TorchScript nn.Sequential: Conv1d padding='same', even kernel -> GELU -> Dropout ->
                       AdaptiveMaxPool1d(1) -> Flatten -> Linear -> Sigmoid
  pt_transformer.json  a pickled nn.Sequential returning a sequence: Linear -> LayerNorm -> GELU ->
                       TransformerEncoder(2 pre-norm gelu layers, final LayerNorm) -> TransformerEncoderLayer
                       (post-norm relu) -> Linear
  pt_recurrent.json    a state_dict + architecture JSON of a custom module: Linear -> MultiheadAttention ->
                       bidirectional 2-layer LSTM (inter-layer dropout) returning sequences -> bidirectional GRU
                       (batch_first=False) h_n -> Linear
  pt_resnet.json       a state_dict + architecture JSON of a graph (InceptionTime module with a ResNet shortcut):
                       Conv1d -> BatchNorm1d -> ReLU -> three branches (Conv1d k3, Conv1d k5, MaxPool1d(3, 1,
                       padding 1) -> Conv1d 1x1) joined ("concat") -> BatchNorm1d, plus a 1x1 Conv1d -> BatchNorm1d
                       shortcut from the input, summed ("add") -> ReLU -> AdaptiveAvgPool1d(1) -> Linear
The oracle (pytorch_import_expected.json) is each user model's own forward pass on other ragged inputs, each
sample run alone and cut at its length (the padding holds random values, which ferrum must not read); sequence
outputs are zero past each sample's output length. The converter's own test vectors are made on other inputs.

usage: /usr/bin/python3 tools/make_pytorch_import_reference.py [OUT_DIR]     # default tests/data
       (also run by `tools/convert_pytorch.py --self-test`, which adds the refusal checks)
"""
import json, os, sys, tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_pytorch as cp  # noqa: E402

nn = torch.nn


class Recurrent(nn.Module):
    """A user's own module (not an nn.Sequential): what --architecture describes."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(2, 6)
        self.attn = nn.MultiheadAttention(6, 2, batch_first=True)
        self.rnn = nn.LSTM(6, 4, num_layers=2, bidirectional=True, batch_first=True, dropout=0.2)
        self.gru = nn.GRU(8, 3, bidirectional=True)
        self.head = nn.Linear(6, 1)

    def forward(self, x):  # one unpadded sample (or a batch of equal lengths)
        h = self.embed(x)
        h = self.attn(h, h, h, need_weights=False)[0]
        h, _ = self.rnn(h)
        _, hn = self.gru(h.transpose(0, 1))
        return self.head(torch.cat([hn[-2], hn[-1]], -1))


class ResInception(nn.Module):
    """A user's own convolutional graph (channels-first, as PyTorch's Conv1d): what --architecture describes with
    named nodes, "from", and "concat" / "add" entries."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4)
        self.b3 = nn.Conv1d(4, 3, 3, padding=1, bias=False)
        self.b5 = nn.Conv1d(4, 3, 5, padding=2, bias=False)
        self.pool, self.pconv = nn.MaxPool1d(3, 1, padding=1), nn.Conv1d(4, 3, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(9)
        self.shortcut, self.sbn = nn.Conv1d(2, 9, 1, bias=False), nn.BatchNorm1d(9)
        self.head = nn.Linear(9, 1)

    def forward(self, x):  # (batch, channels, time)
        h = torch.relu(self.bn1(self.conv1(x)))
        c = self.bn2(torch.cat([self.b3(h), self.b5(h), self.pconv(self.pool(h))], 1))
        r = torch.relu(c + self.sbn(self.shortcut(x)))
        return self.head(r.mean(-1))


def _conv(prefix, i, o, k, pad=0, bias=True, **extra):
    return dict({"module": "Conv1d", "prefix": prefix, "args": {"in_channels": i, "out_channels": o, "kernel_size": k,
                                                                 "padding": pad, "bias": bias}}, **extra)


RESNET_ARCH = {
    "input": {"features": 2, "sequence": True},
    "layers": [
        _conv("conv1", 2, 4, 3, 1),
        {"module": "BatchNorm1d", "prefix": "bn1", "args": {"num_features": 4}},
        {"module": "ReLU", "name": "relu1"},
        _conv("b3", 4, 3, 3, 1, False, **{"from": "relu1"}),
        _conv("b5", 4, 3, 5, 2, False, **{"from": "relu1"}),
        {"module": "MaxPool1d", "name": "pool", "from": "relu1", "args": {"kernel_size": 3, "stride": 1, "padding": 1}},
        _conv("pconv", 4, 3, 1, 0, False),
        {"op": "concat", "name": "cat", "from": ["b3", "b5", "pconv"]},
        {"module": "BatchNorm1d", "prefix": "bn2", "args": {"num_features": 9}},
        _conv("shortcut", 2, 9, 1, 0, False, **{"from": "input"}),
        {"module": "BatchNorm1d", "prefix": "sbn", "args": {"num_features": 9}},
        {"op": "add", "name": "res", "from": ["bn2", "sbn"]},
        {"module": "ReLU", "name": "relu2"},
        {"module": "AdaptiveAvgPool1d", "name": "gap", "args": {"output_size": 1}},
        {"module": "Linear", "prefix": "head", "args": {"in_features": 9, "out_features": 1}}]}


RECURRENT_ARCH = {
    "input": {"features": 2, "sequence": True},
    "layers": [
        {"module": "Linear", "prefix": "embed", "args": {"in_features": 2, "out_features": 6}},
        {"module": "MultiheadAttention", "prefix": "attn", "args": {"embed_dim": 6, "num_heads": 2, "batch_first": True}},
        {"module": "LSTM", "prefix": "rnn", "output": "sequence",
         "args": {"input_size": 6, "hidden_size": 4, "num_layers": 2, "bidirectional": True, "batch_first": True,
                  "dropout": 0.2}},
        {"module": "GRU", "prefix": "gru", "output": "h_n", "args": {"input_size": 8, "hidden_size": 3,
                                                                    "bidirectional": True}},
        {"module": "Linear", "prefix": "head", "args": {"in_features": 6, "out_features": 1}}]}


def _randomise(m, gen):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm1d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=gen, dtype=torch.float64))
                mod.running_var.copy_(torch.rand(mod.num_features, generator=gen, dtype=torch.float64) + 0.5)
                mod.num_batches_tracked.fill_(17)
    return m.eval()


def models(seed=2026):
    """{name: (model, channels_first, features)}, float64, eval mode, seeded weights."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    torch.set_default_dtype(torch.float64)
    try:
        conv = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2),
                             nn.Conv1d(4, 3, 3, dilation=2), nn.AvgPool1d(2, stride=1), nn.Tanh(),
                             nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(3, 2), nn.Softplus())
        script = nn.Sequential(nn.Conv1d(2, 3, 4, padding="same"), nn.GELU(), nn.Dropout(0.3),
                               nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(3, 1), nn.Sigmoid())
        enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
        transformer = nn.Sequential(nn.Linear(2, 8), nn.LayerNorm(8), nn.GELU(),
                                    nn.TransformerEncoder(enc, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False),
                                    nn.TransformerEncoderLayer(8, 2, 12, dropout=0.1, batch_first=True),
                                    nn.Linear(8, 1))
        recurrent = Recurrent()
        resnet = ResInception()
    finally:
        torch.set_default_dtype(torch.float32)
    return {"pt_conv": (_randomise(conv, gen), True, 2), "pt_script": (_randomise(script, gen), True, 2),
            "pt_transformer": (_randomise(transformer, gen), False, 2),
            "pt_recurrent": (_randomise(recurrent, gen), False, 2), "pt_resnet": (_randomise(resnet, gen), True, 2)}


def save_and_convert(name, model, d, steps=10):
    """Saves `model` as a user would and converts the file; returns the ferrum document."""
    path = os.path.join(d, name + ".pt")
    if name == "pt_script":
        torch.jit.script(model).save(path)
        return cp.convert(path, steps=steps)
    if name == "pt_recurrent":
        torch.save(model.state_dict(), path)
        return cp.convert(path, architecture=RECURRENT_ARCH, steps=steps)
    if name == "pt_resnet":
        torch.save(model.state_dict(), path)
        return cp.convert(path, architecture=RESNET_ARCH, steps=steps)
    torch.save(model, path)
    return cp.convert(path, steps=steps)


def own_outputs(model, channels_first, x, lengths):
    """The user's model on each sample alone, cut at its length (ferrum's layout in and out)."""
    def fn(xb):
        h = torch.from_numpy(xb)
        with torch.no_grad():
            y = model(h.transpose(1, 2) if channels_first else h)
        return y.numpy()
    return cp.per_sample(fn, x, lengths)


def oracle_inputs(features, seed):
    rng = np.random.default_rng(seed)
    lengths = [20, 12, 15, 20, 13]  # 12: the conv model's shortest input
    return rng.normal(size=(len(lengths), 20, features)) * 1.5, lengths


def generate(out_dir, quiet=False):
    expected = {"generator": "tools/make_pytorch_import_reference.py (seed 2026): each model's own forward pass, "
                             f"PyTorch {torch.__version__} float64, each sample alone cut at its length",
                "cases": {}}
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for k, (name, (model, cf, F)) in enumerate(models().items()):
            doc = save_and_convert(name, model, d)
            doc["metadata"]["pytorch_file"] = f"tools/make_pytorch_import_reference.py (seed 2026, {name})"
            x, lengths = oracle_inputs(F, 100 + k)
            y = own_outputs(model, cf, x, lengths)
            expected["cases"][name] = {"inputs": x.tolist(), "lengths": lengths, "output": y.tolist()}
            # the converted layers (the converter's PyTorch reconstruction) on the oracle inputs
            ops = _ops_of(name, model, d)
            worst = max(worst, np.abs(cp.per_sample(lambda xb: cp.run_ops(ops, xb), x, lengths) - y).max())
            with open(os.path.join(out_dir, name + ".json"), "w") as f:
                json.dump(doc, f, separators=(",", ":"))
    with open(os.path.join(out_dir, "pytorch_import_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    if not quiet:
        print(f"converted layers vs the models' own outputs: max |diff| {worst:.1e}")
        print(f"wrote {out_dir}/pt_*.json and pytorch_import_expected.json")
    return worst


def _ops_of(name, model, d):
    if name == "pt_recurrent":
        return cp.architecture_ops(RECURRENT_ARCH, model.state_dict())[0]
    if name == "pt_resnet":
        return cp.architecture_ops(RESNET_ARCH, model.state_dict())[0]
    return cp.sequential_ops(model)[0]


def _refused(label, fn, want):
    try:
        fn()
    except cp.ConversionError as e:
        ok = want in str(e)
        print(f"{label}: refused: {e}" + ("" if ok else f"   (expected '{want}')"))
        return ok
    print(f"{label}: NOT refused")
    return False


def self_test():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        worst = generate(d, quiet=True)
        print(f"5 models (conv/batch norm/pooling, TorchScript, transformer, LSTM/GRU/attention, residual graph): "
              "converted layers vs "
              f"the models' own outputs, max |diff| {worst:.1e}")
        ok &= worst < 1e-12

        def conv_seq(mods, features=None):
            p = os.path.join(d, "bad.pt")
            torch.save(nn.Sequential(*mods), p)
            return lambda: cp.convert(p, features=features)
        ok &= _refused("LeakyReLU", conv_seq([nn.Linear(3, 4), nn.LeakyReLU()]),
                       "unsupported PyTorch module '1' (LeakyReLU)")
        ok &= _refused("LSTM in a Sequential", conv_seq([nn.LSTM(3, 4)]), "returns a tuple")
        ok &= _refused("GELU tanh", conv_seq([nn.Linear(3, 4), nn.GELU(approximate="tanh")]), "approximate='tanh'")
        ok &= _refused("Conv1d padding 2, kernel 3", conv_seq([nn.Conv1d(2, 3, 3, padding=2)]), "padding=(2,)")
        ok &= _refused("BatchNorm1d without running stats",
                       conv_seq([nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3, track_running_stats=False)]),
                       "track_running_stats=False")
        sd = Recurrent().state_dict()
        sd["extra.weight"] = torch.zeros(2)
        ok &= _refused("unused state_dict key", lambda: cp.architecture_ops(RECURRENT_ARCH, sd), "'extra.weight'")
        arch = json.loads(json.dumps(RECURRENT_ARCH))
        arch["layers"][2]["args"]["hidden_size"] = 5
        ok &= _refused("wrong hidden_size", lambda: cp.architecture_ops(arch, Recurrent().state_dict()),
                       "size mismatch")
        arch = json.loads(json.dumps(RECURRENT_ARCH))
        arch["layers"][3]["output"] = "last_step"
        ok &= _refused("out[:, -1] of a bidirectional GRU", lambda: cp.architecture_ops(arch, Recurrent().state_dict()),
                       "output 'last_step'")
        arch = json.loads(json.dumps(RESNET_ARCH))
        arch["layers"][11]["from"] = ["bn2", "shortcut_missing"]
        ok &= _refused("add from an unknown node", lambda: cp.architecture_ops(arch, ResInception().state_dict()),
                       "names no earlier node")
        arch = json.loads(json.dumps(RESNET_ARCH))
        arch["layers"][11]["from"] = ["bn2", "relu1"]
        ok &= _refused("add of 9 and 4 channels", lambda: cp.architecture_ops(arch, ResInception().state_dict()),
                       "differ in shape")
    print("self-test", "passed" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(0 if self_test() else 1)
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                                  "tests", "data"))
