"""`loopvec mnist`: the book's experiment on the real MNIST test set, through every implementation."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from loopvec.bench.cli.args import clean, impl_names, path, positive_int
from loopvec.bench.cli.errors import CLIError
from loopvec.bench.data.files import BOOK_ACCURACY, ENV_VAR, WEIGHTS_FILE, DataError, needed_files_text, resolve_data_dir
from loopvec.bench.data.idx import load_mnist
from loopvec.bench.data.mnist import BATCHED, Result, reference_predictions, run_experiment
from loopvec.bench.data.weights import load_weights

MNIST_DESCRIPTION = f"""\
The book's chapter-3 experiment on the real MNIST test set: classify the 10,000
test images with the book's pretrained weights (accuracy {BOOK_ACCURACY}), first one
image at a time, then in batches of --batch, through every implementation.

Prints per implementation: accuracy, how many predictions differ from numpy's,
and the seconds one at a time and batched (forward passes only: inputs are
converted once, before timing). This is a one-shot accuracy check: each
implementation runs once, one after another, so its seconds are a single
reading on a machine whose speed drifts, and no ratio is printed. For ratios
with confidence intervals, timed side by side in interleaved passes, use
`loopvec run --only mnist-real --only batchexp`.
Pure Python takes tens of seconds per pass; progress goes to stderr.

data: --data DIR, else ${ENV_VAR}, else the folder `loopvec fetch-mnist` fills. It needs:
{needed_files_text()}

The weights pickle is read without executing anything: only NumPy arrays and
plain containers are allowed; any other global in it is refused.
"""

def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mnist", help="the book's experiment on the real MNIST test set",
        description=MNIST_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=path, metavar="DIR",
                   help=f"folder with the MNIST test files (default: ${ENV_VAR}, else the folder "
                        f"`loopvec fetch-mnist` fills)")
    p.add_argument("--weights", type=path, metavar="FILE",
                   help=f"weights, .pkl or .npz (default: {WEIGHTS_FILE.name} in the data folder)")
    p.add_argument("--impl", nargs="+", action="extend", metavar="NAME",
                   help="implementations to run (default: every available one; see `loopvec list`)")
    p.add_argument("--batch", type=positive_int, default=100, metavar="N", help="images per batch in the batched run (default 100)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use only the first N test images (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=cmd_mnist)


class _StderrProgress:
    """Progress of each pass on stderr: a live counter on a terminal, one line per pass otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, name: str, phase: str, done: int, total: int) -> None:
        if self.tty:  # rewrite one line; clear it when the pass is done
            self.stream.write(f"\r\033[K  {name}: {phase} {done}/{total} images" if done < total else "\r\033[K")
        elif done == 0:
            self.stream.write(f"  {name}: {phase}, {total} images...\n")
        self.stream.flush()


def cmd_mnist(args: argparse.Namespace) -> int:
    try:
        return _mnist(args)
    except DataError as exc:  # a ValueError, not an InputError: make it the one-line exit-2 kind
        raise CLIError(clean(exc)) from None


def _mnist(args: argparse.Namespace) -> int:
    batch, limit = args.batch, args.limit
    names = impl_names(args.impl)
    data_dir = resolve_data_dir(args.data)
    weights_path = Path(args.weights) if args.weights else data_dir / WEIGHTS_FILE.name
    network = load_weights(weights_path)
    images, labels = load_mnist(data_dir)
    if network.n_in != images.shape[1] or network.n_out != 10:
        raise CLIError(f"{weights_path}: the network is {'-'.join(map(str, network.sizes))}; MNIST needs "
                       f"{images.shape[1]} inputs and 10 outputs")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    reference = reference_predictions(network, images)
    progress = _StderrProgress(sys.stderr)
    results = [run_experiment(name, network, images, labels, batch=batch, progress=progress) for name in names]
    disagreements = {r.name: int((r.predictions != reference).sum()) for r in results}

    if args.json:
        print(json.dumps(_as_json(results, disagreements, data_dir, weights_path, network, batch), indent=2))
    else:
        _print_table(results, disagreements, data_dir, weights_path, network, batch)
    return 0


def _as_json(results: list[Result], disagreements: dict[str, int], data_dir: Path, weights: Path,
             network: Any, batch: int) -> dict[str, Any]:
    return {
        "data": str(data_dir),
        "weights": str(weights),
        "network": "-".join(map(str, network.sizes)),
        "dtype": str(network.dtype),
        "n_images": results[0].n_images if results else 0,
        "batch": batch,
        "book_accuracy": BOOK_ACCURACY,
        "implementations": {
            r.name: {
                "accuracy": r.accuracy,
                "disagreements": disagreements[r.name],
                "seconds_one_at_a_time": r.seconds_one_at_a_time,
                "seconds_batched": r.seconds_batched,
                "speedup": r.speedup,
                "batched_vs_one_at_a_time_disagreements": r.modes_disagree,
            }
            for r in results
        },
    }


def _print_table(results: list[Result], disagreements: dict[str, int], data_dir: Path, weights: Path,
                 network: Any, batch: int) -> None:
    n = results[0].n_images if results else 0
    print(f"MNIST test set: {n} images from {data_dir}")
    print(f"weights: {weights} ({'-'.join(map(str, network.sizes))}, {network.dtype}, "
          f"sigmoid hidden, softmax output); the book reports accuracy {BOOK_ACCURACY}")
    print()
    batched_head = f"batches of {batch} (s)"
    print(f"{'implementation':<16} {'accuracy':>8} {'differ from numpy':>17} {'one at a time (s)':>17} "
          f"{batched_head:>{max(17, len(batched_head))}}")
    for r in results:
        print(f"{r.name:<16} {r.accuracy:>8.4f} {disagreements[r.name]:>17d} {r.seconds_one_at_a_time or 0:>17.4f} "
              f"{r.seconds_batched or 0:>{max(17, len(batched_head))}.4f}")
    for r in results:
        if r.modes_disagree:
            print(f"note: {r.name}: {r.modes_disagree} predictions differ between one at a time and {BATCHED}")
    print()
    print("seconds: one reading each, forward passes only (inputs converted once before timing), implementations "
          "one after another: an accuracy check, not a benchmark; for ratios with intervals run "
          "`loopvec run --only mnist-real --only batchexp`")
