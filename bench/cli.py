"""`loopvec`: run, check and compare the loop and vectorized forward passes."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

import numpy as np

import impls
from impls.network import Network, init_network, mnist_shaped_network


class CLIError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""


DESCRIPTION = """\
loopvec: the neural-network forward pass of chapter 3 of "Deep Learning from
Scratch" written three ways (pure-Python loops, NumPy np.dot, Numba-compiled
loops), proven numerically equal, and timed to show what vectorization buys.

Run `loopvec COMMAND --help` for a command's options.
"""


def cmd_list(args: argparse.Namespace) -> int:
    from bench.machine import versions

    v = versions()
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print()
    print(f"{'implementation':<16} {'dtypes':<18} what")
    for name in impls.available():
        mod = impls.get(name)
        doc = (mod.__doc__ or "").strip().splitlines()[0]
        print(f"{name:<16} {', '.join(mod.DTYPES):<18} {doc}")
    for name, why in impls.unavailable().items():
        print(f"{name:<16} {'-':<18} not available: {why}")
    return 0


# float64 outputs of a forward pass agree to ~1e-15; 1e-9 leaves room for any
# summation order while still catching a real mistake (which shows up at >1e-3).
CHECK_ATOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def _check_one(name: str, network: Network, X: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    mod = impls.get(name)
    out = np.asarray(mod.to_numpy(mod.forward(mod.prepare(network), mod.from_numpy(X))), dtype=np.float64)
    diff = float(np.max(np.abs(out - ref))) if out.size else 0.0
    disagree = int(np.sum(out.argmax(axis=-1) != ref.argmax(axis=-1)))
    return diff, disagree


def cmd_check(args: argparse.Namespace) -> int:
    names = impl_names(args.impl)
    rng = np.random.default_rng(args.seed)
    toy = init_network()
    book = np.array([0.31682708, 0.69627909])
    mnist = mnist_shaped_network(seed=args.seed)
    X = rng.standard_normal((args.samples, 784))  # varied predictions, so argmax agreement means something
    cases = [
        ("toy 2-3-2-2, x=[1.0, 0.5]", toy, np.array([[1.0, 0.5]])),
        (f"MNIST-shaped 784-50-100-10, {args.samples} random inputs", mnist, X),
    ]
    np_impl = impls.get("numpy")
    failed = False
    for title, net, inputs in cases:
        ref = np.asarray(np_impl.forward(np_impl.prepare(net), inputs), dtype=np.float64)
        tol = CHECK_ATOL[net.dtype]
        print(f"{title}  (tolerance {tol:g})")
        if net is toy:
            ok_book = bool(np.allclose(ref[0], book, atol=5e-9))
            print(f"  numpy output {np.array2string(ref[0], precision=8)}; book prints [0.31682708 0.69627909]"
                  f" -> {'matches' if ok_book else 'DIFFERS'}")
            failed |= not ok_book
        print(f"  {'implementation':<16} {'max |diff| vs numpy':>20} {'argmax disagreements':>22}  verdict")
        for name in names:
            diff, dis = _check_one(name, net, inputs, ref)
            ok = diff <= tol and dis == 0
            failed |= not ok
            print(f"  {name:<16} {diff:>20.3g} {dis:>22d}  {'ok' if ok else 'DISAGREES'}")
        print()
    print("all implementations agree" if not failed else "DISAGREEMENT: see above")
    return 1 if failed else 0


def impl_names(requested: Sequence[str] | None) -> list[str]:
    """The requested implementation names (deduplicated, checked), or all available ones."""
    if not requested:
        return impls.available()
    for name in requested:
        try:
            impls.get(name)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    return list(dict.fromkeys(requested))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopvec", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="implementations available here, with versions")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("check", help="check that every implementation agrees with numpy",
                       description="Run every implementation on the book's 2-3-2-2 toy network and on a "
                       "seeded MNIST-shaped 784-50-100-10 network; print the largest difference from "
                       "numpy and whether the predictions (argmax) agree. Exit 1 on any disagreement.")
    p.add_argument("--impl", nargs="+", metavar="NAME", help="implementations to check (default: all available)")
    p.add_argument("--samples", type=positive_int, default=200, help="random MNIST-shaped inputs (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the network and inputs (default 0)")
    p.set_defaults(func=cmd_check)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Commands that live in their own modules register themselves here."""
    registrars = []
    for modname in ("bench.runner", "bench.compare", "bench.report", "bench.mnist_cli"):
        try:
            mod = __import__(modname, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            continue
        registrars.append(mod.register)
    return registrars


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {n}")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CLIError, impls.InputError) as exc:
        print(f"loopvec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"loopvec {args.command}: interrupted", file=sys.stderr)
        return 130
