"""PyTorch CPU, eager, no autograd: the reference a user would pick instead.

Optional (`pip install loopvec[torch]`); without torch this module fails to import
and the registry leaves `torch` out.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from loopvec.impls._common import as_numeric_array, check_dot_shapes, check_forward_input, shape_str, InputError
from loopvec.impls.network import Network

NAME = "torch"
DTYPES = ("float64", "float32")


def from_numpy(a: np.ndarray) -> torch.Tensor:
    return _tensor(a)


def to_numpy(x: Any) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _tensor(x: Any, what: str = "x") -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.dtype.is_complex:
            raise InputError(f"{what}: expected real numbers, got {x.dtype}")
        if x.dim() not in (1, 2):
            raise InputError(f"{what}: expected a 1-D vector or a 2-D batch, got {x.dim()}-D shape "
                             f"{shape_str(tuple(x.shape))}")
        return x
    a = np.ascontiguousarray(as_numeric_array(x, what))
    if not a.flags.writeable:  # torch.from_numpy warns on read-only memory: copy only then
        a = a.copy()
    return torch.from_numpy(a)


def _float(t: torch.Tensor) -> torch.Tensor:
    return t if t.is_floating_point() else t.to(torch.float64)


@torch.inference_mode()
def step(x: Any) -> torch.Tensor:
    return (_tensor(x) > 0).to(torch.int64)


@torch.inference_mode()
def sigmoid(x: Any) -> torch.Tensor:
    return torch.sigmoid(_float(_tensor(x)))


@torch.inference_mode()
def relu(x: Any) -> torch.Tensor:
    return torch.relu(_float(_tensor(x)))


@torch.inference_mode()
def identity(x: Any) -> torch.Tensor:
    return _float(_tensor(x)).clone()


@torch.inference_mode()
def softmax(x: Any) -> torch.Tensor:
    return torch.softmax(_float(_tensor(x)), dim=-1)  # subtracts the max internally


@torch.inference_mode()
def dot(a: Any, b: Any) -> torch.Tensor:
    A, B = _tensor(a, "a"), _tensor(b, "b")
    check_dot_shapes(tuple(A.shape), tuple(B.shape))
    dt = torch.promote_types(A.dtype, B.dtype)
    return torch.matmul(A.to(dt), B.to(dt))


_ACT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid_,
    "relu": torch.relu_,
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


class Prepared:
    __slots__ = ("layers", "hidden", "output", "dtype", "n_in", "n_out")

    def __init__(self, network: Network) -> None:
        self.layers = tuple((torch.from_numpy(W.copy()), torch.from_numpy(b.copy())) for W, b in network.layers)
        self.hidden = _ACT[network.hidden]
        self.output = _ACT[network.output]
        self.dtype = self.layers[0][0].dtype
        self.n_in = network.n_in
        self.n_out = network.n_out


def prepare(network: Network) -> Prepared:
    return Prepared(network)


def stages(p: Prepared, k: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Layer k of the forward pass as the calls it makes (what `loopvec explain` times): "product"
    addmm (addmv for one sample), the bias fused into it as in forward, and "activation" (in place
    for sigmoid and relu, as in forward)."""
    W, b = p.layers[k]
    return {"product": lambda a: torch.addmm(b, a, W) if a.dim() == 2 else torch.addmv(b, W.t(), a),
            "activation": p.output if k == len(p.layers) - 1 else p.hidden}


@torch.inference_mode()
def forward(p: Prepared, x: Any) -> torch.Tensor:
    X = _tensor(x)
    check_forward_input(tuple(X.shape), p.n_in)
    a = X.to(p.dtype)
    last = len(p.layers) - 1
    for k, (W, b) in enumerate(p.layers):
        # (batch, n_in) @ (n_in, n_out) + b -> (batch, n_out); addmm fuses the bias
        z = torch.addmm(b, a, W) if a.dim() == 2 else torch.addmv(b, W.t(), a)
        a = p.output(z) if k == last else p.hidden(z)
    return a
