"""PyTorch peer of bench_nn.cpp: the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1,
Linear(8,1)), float32, Adam, batch 256, limited to the same number of threads.
usage: nn_peer.py N_TRAIN STEPS BATCH EPOCHS THREADS   (prints one JSON line)"""
import json, resource, sys, time

import torch

from paper_gru import Net, synthetic_data, weighted_mse

n, steps, batch, epochs, threads = (int(a) for a in sys.argv[1:6])
torch.set_num_threads(threads)
torch.manual_seed(1)


x, y, w = synthetic_data(n, steps)
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
