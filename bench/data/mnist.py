"""The book's chapter-3 experiment on the real MNIST test set.

    images, labels = load_mnist(resolve_data_dir(None))    # --data, $LOOPVEC_DATA, or the default folder
    network = load_weights(data_dir / "sample_weight.pkl")  # executes nothing from the file
    result = run_experiment("numpy", network, images, labels, batch=100)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from loopvec import impls
from loopvec.bench.data.files import WEIGHTS_FILE, data_status, find_data_file, resolve_data_dir
from loopvec.bench.data.idx import load_mnist
from loopvec.bench.data.weights import load_weights
from loopvec.impls.network import Network

def load_real(data_dir: str | os.PathLike[str] | None = None) -> tuple[Network, np.ndarray, np.ndarray]:
    """(the book's network, test images, labels) from --data / $LOOPVEC_DATA: the benchmark's workload.

    Cached per folder, since the benchmark suite asks once per case; raises DataError when absent.
    """
    return _load_real_cached(str(resolve_data_dir(data_dir).resolve()))


@lru_cache(maxsize=4)
def _load_real_cached(folder: str) -> tuple[Network, np.ndarray, np.ndarray]:
    d = Path(folder)
    network = load_weights(find_data_file(d, WEIGHTS_FILE))
    images, labels = load_mnist(d)
    images.setflags(write=False)  # shared by every caller of the cache
    labels.setflags(write=False)
    return network, images, labels



def real_mnist_missing() -> str | None:
    """Why the real-MNIST cases cannot run here (one short line), or None when they can."""
    folder, _ = data_status()
    return None if folder is not None else "real MNIST not found: run `loopvec fetch-mnist` (or set LOOPVEC_DATA)"


# --- the experiment ---

# (implementation, phase, images done, images total); phase is "one at a time" or "batched"
Progress = Callable[[str, str, int, int], None]
ONE_AT_A_TIME = "one at a time"
BATCHED = "batched"
_REPORT_EVERY = 1000  # images between progress reports (and between reads of the clock)


@dataclass(frozen=True)
class Result:
    name: str
    n_images: int
    batch: int
    accuracy: float
    predictions: np.ndarray  # argmax per image; one-at-a-time's when that ran, else batched's
    seconds_one_at_a_time: float | None
    seconds_batched: float | None
    modes_disagree: int | None  # images where batched and one-at-a-time predictions differ

    @property
    def speedup(self) -> float | None:
        if self.seconds_one_at_a_time is None or not self.seconds_batched:
            return None
        return self.seconds_one_at_a_time / self.seconds_batched


def _timed_forward(forward: Callable[[Any, Any], Any], prepared: Any, inputs: Sequence[Any],
                   images_per_input: int, report: Callable[[int], None]) -> tuple[list[Any], float]:
    """forward(prepared, x) for each x, timing only those calls (not progress reports)."""
    outs: list[Any] = []
    seconds = 0.0
    step = max(1, _REPORT_EVERY // images_per_input)
    for start in range(0, len(inputs), step):
        part = inputs[start:start + step]
        t0 = time.perf_counter()
        for x in part:
            outs.append(forward(prepared, x))  # outputs kept, argmax later: only forward is timed
        seconds += time.perf_counter() - t0
        report((start + step) * images_per_input)  # the last batch may be short: clamped by the reporter
    return outs, seconds


def run_experiment(
    name: str,
    network: Network,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch: int = 100,
    one_at_a_time: bool = True,
    batched: bool = True,
    progress: Progress | None = None,
) -> Result:
    """The book's experiment for implementation `name`: classify every image one at a time and in
    batches of `batch`, timing only the forward passes (input conversion happens once, before)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not (one_at_a_time or batched):
        raise ValueError("run one at a time, batched, or both")
    n = len(images)
    if n == 0 or len(labels) != n:
        raise ValueError(f"expected n >= 1 images and as many labels, got {n} and {len(labels)}")
    mod = impls.get(name)
    prepared = mod.prepare(network)
    X = mod.from_numpy(np.ascontiguousarray(images))  # once, untimed ("python": lists of floats)
    # Warm up both input shapes: JIT compilation and first-call set-up are not what the book times.
    mod.forward(prepared, X[0])
    mod.forward(prepared, X[:min(batch, n)])

    def reporter(phase: str, total: int) -> Callable[[int], None]:
        if progress is None:
            return lambda done: None
        progress(name, phase, 0, total)
        return lambda done: progress(name, phase, min(done, total), total)

    def argmax_rows(outs: list[Any]) -> np.ndarray:
        return np.concatenate([np.asarray(mod.to_numpy(o)).reshape(-1, network.n_out) for o in outs]).argmax(axis=1)

    pred_one = pred_batch = None
    sec_one = sec_batch = None
    if one_at_a_time:
        rows = [X[i] for i in range(n)]  # the book's x[i]; indexing is not the work being compared
        outs, sec_one = _timed_forward(mod.forward, prepared, rows, 1, reporter(ONE_AT_A_TIME, n))
        pred_one = argmax_rows(outs)
    if batched:
        chunks = [X[s:s + batch] for s in range(0, n, batch)]
        outs, sec_batch = _timed_forward(mod.forward, prepared, chunks, batch, reporter(BATCHED, n))
        pred_batch = argmax_rows(outs)
    predictions = pred_one if pred_one is not None else pred_batch
    assert predictions is not None
    modes_disagree = (int(np.sum(pred_one != pred_batch))
                      if pred_one is not None and pred_batch is not None else None)
    return Result(
        name=name,
        n_images=n,
        batch=batch,
        accuracy=float(np.mean(predictions == labels)),
        predictions=predictions.astype(np.int64),
        seconds_one_at_a_time=sec_one,
        seconds_batched=sec_batch,
        modes_disagree=modes_disagree,
    )


def reference_predictions(network: Network, images: np.ndarray) -> np.ndarray:
    """numpy's argmax for every image (one batched call): what other implementations are compared to."""
    mod = impls.get("numpy")
    return np.asarray(mod.forward(mod.prepare(network), images)).argmax(axis=1).astype(np.int64)
