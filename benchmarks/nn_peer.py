"""PyTorch peer of bench_nn.cpp: the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1,
Linear(8,1)), float32, Adam, batch 256, limited to the same number of threads.
usage: nn_peer.py N_TRAIN STEPS BATCH EPOCHS THREADS [MODEL]   (prints one JSON line)
MODEL: paper_gru (default), or bench_nn's attention rows: encoder (Linear 2->32, sinusoidal positions, one
TransformerEncoderLayer(32, 4, 64, dropout 0.1), additive attention pooling, Linear 32->1) or pooling
(Linear 2->32 + tanh, additive attention pooling, Linear 32->1); padding masks are passed as ferrum's are."""
import json, math, resource, sys, time

import torch

from paper_gru import Net, synthetic_data, weighted_mse

n, steps, batch, epochs, threads = (int(a) for a in sys.argv[1:6])
model = sys.argv[6] if len(sys.argv) > 6 else "paper_gru"
torch.set_num_threads(threads)
torch.manual_seed(1)


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


x, y, w = synthetic_data(n, steps)
net = Net() if model == "paper_gru" else AttentionNet(model == "encoder")
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
print(json.dumps({"torch": torch.__version__, "threads": threads,
                  "train_seq_per_s": n * epochs / train_s, "infer_seq_per_s": n / infer_s,
                  "train_seq_per_cpu_s": n * epochs / train_cpu, "infer_seq_per_cpu_s": n / infer_cpu,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
