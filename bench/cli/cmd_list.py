"""`loopvec list`: the implementations available here, with versions."""
from __future__ import annotations

import argparse

from loopvec import impls


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="implementations available here, with versions",
                       description="The implementations that import here (the ladder, in table order), with "
                                   "the versions of Python and the libraries they use.")
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from loopvec.bench.measure.machine import versions

    print("versions: " + ", ".join(f"{k} {val}" for k, val in versions().items()))
    print()
    print(f"{'implementation':<16} {'dtypes':<18} what")
    for name in impls.available():
        mod = impls.get(name)
        doc = (mod.__doc__ or "").strip().splitlines()[0]
        print(f"{name:<16} {', '.join(mod.DTYPES):<18} {doc}")
    for name, why in impls.unavailable().items():
        print(f"{name:<16} {'-':<18} not available: {why}")
    if any(n.startswith("numba-") for n in impls.available()):
        print()
        print(kernel_line())
    return 0


def kernel_line() -> str:
    """The shape of numba-tuned's kernel on the target Numba compiles for here."""
    from loopvec.impls.target import describe

    k = describe()
    shapes = "; ".join(f"{dt} {k[dt]['lanes']} lanes, {k[dt]['mr']} samples x {k[dt]['nr']} vectors"
                       for dt in ("float64", "float32"))
    return (f"numba-tuned / numba-parallel kernel: target {k['cpu']} ({k['isa']}, {k['vector_bits']}-bit vectors, "
            f"{k['registers']} registers{', FMA' if k['fma'] else ''}); register block {shapes}")
