"""
PyTorch and ONNX: export, and take trained networks apart
=========================================================

A ReluSum is a one-hidden-layer ReLU network; ``to_torch`` builds it, ``to_onnx`` writes it,
and ``from_torch`` reads any ReLU ``nn.Sequential`` of one input back into the exact sum of
shifted ReLUs it computes (extra ``relusum[torch]``).
"""

import tempfile
from pathlib import Path

import numpy as np
import torch

import relusum
from relusum.torch_bridge import from_torch, neuron_table, neurons, to_onnx, to_torch

r = relusum.fit("sin(x)", domain=(0, 3), n_units=8)
net = to_torch(r.model)
print(net)
x = torch.linspace(0, 3, 5, dtype=torch.float64).reshape(-1, 1)
print(torch.allclose(net(x).ravel(), torch.as_tensor(r.model(x.numpy().ravel()))))

# %%
# A deeper trained network is still a sum of shifted ReLUs in one dimension:
torch.manual_seed(0)
deep = torch.nn.Sequential(
    torch.nn.Linear(1, 6),
    torch.nn.ReLU(),
    torch.nn.Linear(6, 6),
    torch.nn.ReLU(),
    torch.nn.Linear(6, 1),
).double()
s = from_torch(deep, domain=(-2, 2))
t = np.linspace(-2, 2, 9)
with torch.no_grad():
    ref = deep(torch.as_tensor(t).reshape(-1, 1)).numpy().ravel()
print(s.n_units, "units; max difference", float(np.max(np.abs(s(t) - ref))))

# %%
# The units of a one-hidden-layer network, neuron by neuron:
print(neuron_table(neurons(net, domain=(0, 3))))

# %%
# ONNX:
with tempfile.TemporaryDirectory() as tmp:
    path = to_onnx(r.model, Path(tmp) / "sin.onnx")
    print(path.name, path.stat().st_size, "bytes")
