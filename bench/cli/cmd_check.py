"""`loopvec check`: every implementation against numpy on the toy and the MNIST-shaped network."""
from __future__ import annotations

import argparse

import numpy as np

from loopvec import impls
from loopvec.bench.cli.args import bounded_int, impl_names
from loopvec.impls._common import TOLERANCE
from loopvec.impls.network import BOOK_X, BOOK_Y, Network, init_network, mnist_shaped_network


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check that every implementation agrees with numpy",
                       description="Run every implementation on the book's 2-3-2-2 toy network and on a "
                       "seeded MNIST-shaped 784-50-100-10 network; print the largest difference from "
                       "numpy and whether the predictions (argmax) agree. Exit 1 on any disagreement.")
    p.add_argument("--impl", nargs="+", action="extend", metavar="NAME", help="implementations to check (default: all available)")
    p.add_argument("--samples", type=bounded_int(1, 100_000), default=200,
                   help="random MNIST-shaped inputs, 1..100,000 (default 200)")
    p.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=0, help="seed of the network and inputs, >= 0 (default 0)")
    p.set_defaults(func=cmd_check)


def _check_one(name: str, network: Network, X: np.ndarray, ref: np.ndarray) -> tuple[float, int, bool]:
    mod = impls.get(name)
    out = np.asarray(mod.to_numpy(mod.forward(mod.prepare(network), mod.from_numpy(X))), dtype=np.float64)
    diff = float(np.max(np.abs(out - ref))) if out.size else 0.0
    disagree = int(np.sum(out.argmax(axis=-1) != ref.argmax(axis=-1)))
    rtol, atol = TOLERANCE["result"][str(network.dtype)]
    return diff, disagree, bool(np.allclose(out, ref, rtol=rtol, atol=atol))


def cmd_check(args: argparse.Namespace) -> int:
    names = impl_names(args.impl)
    rng = np.random.default_rng(args.seed)
    toy = init_network()
    X = rng.standard_normal((args.samples, 784))  # varied predictions, so argmax agreement means something
    cases = [("toy 2-3-2-2, x=[1.0, 0.5]", toy, np.array([BOOK_X])),
             (f"MNIST-shaped 784-50-100-10, {args.samples} random inputs", mnist_shaped_network(seed=args.seed), X)]
    np_impl = impls.get("numpy")
    failed = False
    for title, net, inputs in cases:
        ref = np.asarray(np_impl.forward(np_impl.prepare(net), inputs), dtype=np.float64)
        rtol, atol = TOLERANCE["result"][str(net.dtype)]
        print(f"{title}  (tolerance rtol {rtol:g}, atol {atol:g})")
        if net is toy:
            ok_book = bool(np.allclose(ref[0], BOOK_Y, atol=5e-9))
            print(f"  numpy output {np.array2string(ref[0], precision=8)}; book prints {list(BOOK_Y)}"
                  f" -> {'matches' if ok_book else 'DIFFERS'}")
            failed |= not ok_book
        print(f"  {'implementation':<16} {'max |diff| vs numpy':>20} {'argmax disagreements':>22}  verdict")
        for name in names:
            diff, dis, close = _check_one(name, net, inputs, ref)
            ok = close and dis == 0
            failed |= not ok
            print(f"  {name:<16} {diff:>20.3g} {dis:>22d}  {'ok' if ok else 'DISAGREES'}")
        print()
    print("all implementations agree" if not failed else "DISAGREEMENT: see above")
    return 1 if failed else 0
