"""Minimum bytes and arithmetic intensity against counts made by hand."""
from __future__ import annotations

import json

import pytest

from loopvec.bench.measure import traffic as T
from loopvec.bench.measure.workloads import Workload, cases

F64, F32 = 8, 4


@pytest.mark.parametrize("name,dtype,want", [
    ("relu", "float64", 1000 * F64 * 2),  # 16000: 1000 doubles in, 1000 out
    ("sigmoid", "float32", 1000 * F32 * 2),
    ("softmax", "float64", 1000 * F64 * 2),
    ("step", "float64", 1000 * F64 + 1000 * 8),  # step writes int64 0/1
    ("step", "float32", 1000 * F32 + 1000 * 8),
])
def test_activations_read_n_and_write_n(name: str, dtype: str, want: int) -> None:
    w = Workload("activation", name, 1000, dtype)
    assert T.min_bytes(w) == want
    assert T.intensity(w) is None and T.flops(w) is None


def test_dot_moves_three_matrices() -> None:
    w = Workload("dot", "dot", 2)
    assert T.min_bytes(w) == 3 * 4 * F64 == 96
    assert T.intensity(w) == pytest.approx(2 * 2**3 / 96)
    assert T.min_bytes(Workload("dot", "dot", 128, "float32")) == 3 * 128 * 128 * F32


def test_toy_forward_by_hand() -> None:
    # x 2 + W1 2x3 + b1 3 + W2 3x2 + b2 2 + W3 2x2 + b3 2 + out 2 = 27 doubles
    w = Workload("forward", "forward-toy", 1, network="toy")
    assert T.layer_sizes(w) == (2, 3, 2, 2)
    assert T.min_bytes(w) == 27 * F64 == 216
    w100 = Workload("forward", "forward-toy", 100, network="toy")
    assert T.min_bytes(w100) == (100 * 2 + 23 + 100 * 2) * F64


def test_mnist_shaped_forward_by_hand() -> None:
    params = 784 * 50 + 50 + 50 * 100 + 100 + 100 * 10 + 10
    w = Workload("forward", "forward-mnist", 1, network="mnist-shaped")
    assert T.min_bytes(w) == (784 + params + 10) * F64
    w32 = Workload("forward", "forward-mnist-f32", 1000, "float32", "mnist-shaped")
    assert T.min_bytes(w32) == (1000 * 784 + params + 1000 * 10) * F32
    assert T.intensity(w32) == pytest.approx(2 * 1000 * (784 * 50 + 50 * 100 + 100 * 10) / T.min_bytes(w32))


def test_mnist_real_needs_no_data() -> None:
    # the book's network, float32 weights and images; its shape is known without the files
    w = Workload("forward", "mnist-real", 100, "float32", "mnist-real")
    params = 784 * 50 + 50 + 50 * 100 + 100 + 100 * 10 + 10
    assert T.min_bytes(w) == (100 * 784 + params + 100 * 10) * F32
    assert T.flops(w) == 2 * 100 * (784 * 50 + 50 * 100 + 100 * 10)


def test_batches_read_the_weights_once() -> None:
    one = Workload("batches", "batchexp-one", 10_000, network="mnist-shaped", per_call=1)
    batched = Workload("batches", "batchexp-b0100", 10_000, network="mnist-shaped", per_call=100)
    whole = Workload("forward", "forward-mnist", 10_000, network="mnist-shaped")
    assert T.min_bytes(one) == T.min_bytes(batched) == T.min_bytes(whole)


def test_flops_agree_with_the_workloads_own_count_for_every_case_with_local_data() -> None:
    for w in cases("full"):
        if w.network != "mnist-real":
            assert T.flops(w) == w.flops, w.id
        summary = T.traffic(w)
        json.dumps(summary)
        assert summary["min_bytes"] > 0 and summary["case"] == w.id


def test_a_case_without_a_network_has_no_layer_sizes() -> None:
    with pytest.raises(ValueError):
        T.layer_sizes(Workload("dot", "dot", 4))
