"""PyTorch peer of bench_nn.cpp: the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1,
Linear(8,1)), float32, Adam, batch 256, limited to the same number of threads.
usage: nn_peer.py N_TRAIN STEPS BATCH EPOCHS THREADS   (prints one JSON line)"""
import json, resource, sys, time

import torch

n, steps, batch, epochs, threads = (int(a) for a in sys.argv[1:6])
torch.set_num_threads(threads)
torch.manual_seed(1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.g1, self.g2, self.g3 = torch.nn.GRU(2, 20, batch_first=True), torch.nn.GRU(20, 16, batch_first=True), torch.nn.GRU(16, 8, batch_first=True)
        self.d1, self.d2, self.d3 = torch.nn.Dropout(0.2), torch.nn.Dropout(0.2), torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        h, _ = self.g1(x)
        h, _ = self.g2(self.d1(h))
        h, _ = self.g3(self.d2(h))
        return self.head(self.d3(h[:, -1])).squeeze(-1)


x = torch.randn(n, steps, 2)
y = torch.randn(n) * 0.5 - 1.5
w = torch.rand(n) + 0.5
net = Net()
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
        loss = (w[i:i + batch] * (yhat - y[i:i + batch]) ** 2).mean()
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
