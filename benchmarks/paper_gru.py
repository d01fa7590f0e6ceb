"""The PyTorch side shared by nn_peer.py (CPU) and gpu_peer.py (GPU): the paper's GRU regressor
(Monti et al. 2025: GRU 2->20->16->8, dropout 0.2/0.2/0.1, Linear(8,1)), the synthetic data both peers
train on (the same draws as the ferrum benchmarks' shapes and scales) and the weighted MSE they minimise."""
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.g1, self.g2, self.g3 = (torch.nn.GRU(2, 20, batch_first=True), torch.nn.GRU(20, 16, batch_first=True),
                                     torch.nn.GRU(16, 8, batch_first=True))
        self.d1, self.d2, self.d3 = torch.nn.Dropout(0.2), torch.nn.Dropout(0.2), torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        h, _ = self.g1(x)
        h, _ = self.g2(self.d1(h))
        h, _ = self.g3(self.d2(h))
        return self.head(self.d3(h[:, -1])).squeeze(-1)


def synthetic_data(n, steps):
    """Inputs (n, steps, 2) ~ N(0, 1), targets ~ N(-1.5, 0.5), weights ~ U(0.5, 1.5): throughput does not
    depend on the values."""
    x = torch.randn(n, steps, 2)
    y = torch.randn(n) * 0.5 - 1.5
    w = torch.rand(n) + 0.5
    return x, y, w


def weighted_mse(yhat, y, w):
    return (w * (yhat - y) ** 2).mean()
