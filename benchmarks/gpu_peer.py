"""PyTorch peer of bench_gpu.cpp on the same GPU: the paper's GRU regressor (GRU 2->20->16->8, dropout
0.2/0.2/0.1, Linear(8,1)), float32, Adam, cuDNN with TF32 off (the ferrum side uses FMA math).
usage: gpu_peer.py N STEPS BATCH INFER_BATCH   (prints one JSON line; the data start on the host, as
ferrum's do, so each batch is copied to the device inside the timed loop)"""
import json, sys, time

import torch

from paper_gru import Net, synthetic_data, weighted_mse

n, steps, batch, infer_batch = (int(a) for a in sys.argv[1:5])
if not torch.cuda.is_available():
    print(json.dumps({"torch": torch.__version__, "error": "no CUDA device"}))
    sys.exit(0)
dev = torch.device("cuda")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(1)


x, y, w = synthetic_data(n, steps)
net = Net().to(dev)
opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
torch.cuda.reset_peak_memory_stats()


def train_step(i):
    xb, yb, wb = x[i:i + batch].to(dev), y[i:i + batch].to(dev), w[i:i + batch].to(dev)
    opt.zero_grad()
    loss = weighted_mse(net(xb), yb, wb)
    loss.backward()
    opt.step()
    return loss


net.train()
train_step(0)  # warm-up
torch.cuda.synchronize()
t0 = time.perf_counter()
for i in range(0, n, batch):
    loss = train_step(i)
final_loss = float(loss)  # synchronises
train_s = time.perf_counter() - t0


def infer(b):
    with torch.no_grad():
        net(x[:b].to(dev))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, n, b):
            out = net(x[i:i + b].to(dev)).cpu()  # results back on the host, as ferrum's predict()
        return time.perf_counter() - t0


net.eval()
infer_s = infer(batch)
infer_big_s = infer(infer_batch)
print(json.dumps({"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                  "device": torch.cuda.get_device_name(0),
                  "train_seq_per_s": n / train_s, "infer_seq_per_s": n / infer_s,
                  "infer_big_seq_per_s": n / infer_big_s, "final_loss": final_loss,
                  "gpu_mib": torch.cuda.max_memory_allocated() / 2**20}))
