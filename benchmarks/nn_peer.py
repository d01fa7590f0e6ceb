"""PyTorch peer of bench_nn.cpp: the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1,
Linear(8,1)), float32, Adam, batch 256, limited to the same number of threads; with MODEL lstm, bigru or
bilstm the same trunk with LSTM layers and/or bidirectional layers (concat; the last layer's h_n of both
directions feeds the head).
usage: nn_peer.py N_TRAIN STEPS BATCH EPOCHS THREADS [MODEL]   (prints one JSON line)"""
import json, resource, sys, time

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


x, y, w = synthetic_data(n, steps)
net = Net() if model == "gru" else RecurrentNet("lstm" if "lstm" in model else "gru", model.startswith("bi"))
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
