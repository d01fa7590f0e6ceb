"""PyTorch peer of bench_nn.cpp: the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1,
Linear(8,1)), float32, Adam, batch 256, limited to the same number of threads; with MODEL lstm, bigru or
bilstm the same trunk with LSTM layers and/or bidirectional layers (concat; the last layer's h_n of both
directions feeds the head); encoder (Linear 2->32, sinusoidal positions, one TransformerEncoderLayer(32, 4,
64, dropout 0.1), additive attention pooling, Linear 32->1) or pooling (Linear 2->32 + tanh, additive
attention pooling, Linear 32->1): bench_nn's attention rows, padding masks passed as ferrum's are; fcn:
Wang et al. (2017)'s FCN, 3 x (Conv1d same, BatchNorm1d, ReLU) 128-256-128, kernels 8-5-3, global
average pooling, Linear(128, 1).
usage: nn_peer.py N_TRAIN STEPS BATCH EPOCHS THREADS [MODEL]   (prints one JSON line)"""
import json, math, resource, sys, time

import torch

from paper_gru import Net, synthetic_data, weighted_mse

n, steps, batch, epochs, threads = (int(a) for a in sys.argv[1:6])
model = sys.argv[6] if len(sys.argv) > 6 else "gru"
torch.set_num_threads(threads)
torch.manual_seed(1)


class RecurrentNet(torch.nn.Module):
    """The paper's trunk (20 -> 16 -> 8, dropout 0.2/0.2/0.1) with LSTM and/or bidirectional layers."""

    def __init__(self, cell, bidirectional):
        super().__init__()
        d = 2 if bidirectional else 1
        cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
        self.r = torch.nn.ModuleList([cls(i, h, batch_first=True, bidirectional=bidirectional)
                                      for i, h in [(2, 20), (20 * d, 16), (16 * d, 8)]])
        self.d = torch.nn.ModuleList([torch.nn.Dropout(p) for p in (0.2, 0.2, 0.1)])
        self.head = torch.nn.Linear(8 * d, 1)

    def forward(self, x):
        h = x
        for k, (r, d) in enumerate(zip(self.r, self.d)):
            out, state = r(h)
            if k < 2:
                h = d(out)
                continue
            hn = state[0] if isinstance(state, tuple) else state
            h = d(torch.cat([hn[-2], hn[-1]], dim=-1) if r.bidirectional else hn[-1])
        return self.head(h).squeeze(-1)


class AttentionNet(torch.nn.Module):
    """bench_nn's attention rows (attention_rows in bench_nn.cpp)."""

    def __init__(self, encoder):
        super().__init__()
        self.proj = torch.nn.Linear(2, 32)
        self.encoder = encoder
        if encoder:
            pos = torch.arange(steps).unsqueeze(1)
            div = torch.exp(torch.arange(0, 32, 2) * (-math.log(10000.0) / 32))
            pe = torch.zeros(steps, 32)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
            self.register_buffer("pe", pe)
            self.block = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
        self.att = torch.nn.Linear(32, 32)
        self.v = torch.nn.Parameter(torch.randn(32) / 32 ** 0.5)
        self.head = torch.nn.Linear(32, 1)

    def forward(self, x):
        mask = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool)  # key padding mask: nothing padded
        if self.encoder:
            h = self.block(self.proj(x) + self.pe[: x.shape[1]], src_key_padding_mask=mask)
        else:
            h = torch.tanh(self.proj(x))
        e = (torch.tanh(self.att(h)) @ self.v).masked_fill(mask, float("-inf"))
        a = torch.softmax(e, dim=1)
        return self.head((a.unsqueeze(-1) * h).sum(dim=1)).squeeze(-1)


class FCN(torch.nn.Module):
    """Wang, Yan & Oates (2017)'s fully convolutional network (bench_nn's make_trunk("fcn"))."""

    def __init__(self):
        super().__init__()
        layers = []
        for i, o, k in [(2, 128, 8), (128, 256, 5), (256, 128, 3)]:
            layers += [torch.nn.Conv1d(i, o, k, padding="same"), torch.nn.BatchNorm1d(o), torch.nn.ReLU()]
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(128, 1)

    def forward(self, x):
        return self.head(self.body(x.transpose(1, 2)).mean(dim=2)).squeeze(-1)


x, y, w = synthetic_data(n, steps)
if model in ("gru", "paper_gru"):
    net = Net()
elif model == "fcn":
    net = FCN()
elif model in ("encoder", "pooling"):
    net = AttentionNet(model == "encoder")
else:
    net = RecurrentNet("lstm" if "lstm" in model else "gru", model.startswith("bi"))
opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
net.train()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


t0, c0 = time.perf_counter(), cpu()
for _ in range(epochs):
    for i in range(0, n, batch):
        opt.zero_grad()
        yhat = net(x[i:i + batch])
        loss = weighted_mse(yhat, y[i:i + batch], w[i:i + batch])
        loss.backward()
        opt.step()
train_s, train_cpu = time.perf_counter() - t0, cpu() - c0
net.eval()
t0, c0 = time.perf_counter(), cpu()
with torch.no_grad():
    for i in range(0, n, batch):
        net(x[i:i + batch])
infer_s, infer_cpu = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"torch": torch.__version__, "threads": threads, "model": model,
                  "train_seq_per_s": n * epochs / train_s, "infer_seq_per_s": n / infer_s,
                  "train_seq_per_cpu_s": n * epochs / train_cpu, "infer_seq_per_cpu_s": n / infer_cpu,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
