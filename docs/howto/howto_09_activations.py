"""
Replace activations by certified ReLU sums
==========================================

``relusum.nn.approximate_activations`` swaps every smooth activation of a model (GELU,
SiLU, tanh, ...) for a sum of shifted ReLUs whose error is certified on the range it sees
and on all of the real line.
"""

import torch

from relusum.nn import approximate_activations

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(4, 16),
    torch.nn.GELU(),
    torch.nn.Linear(16, 16),
    torch.nn.Tanh(),
    torch.nn.Linear(16, 1),
)
calib = torch.randn(256, 4)
relu_model, reports = approximate_activations(model, tol=1e-2, calibration=calib)
for rep in reports:
    print(rep)
with torch.no_grad():
    diff = (relu_model(calib) - model(calib)).abs().max().item()
print(f"largest output change on the calibration batch: {diff:.2e}")
