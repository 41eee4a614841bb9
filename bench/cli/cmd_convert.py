"""`loopvec convert-weights IN OUT`: the book's sample_weight.pkl to .npz, read without executing anything."""
from __future__ import annotations

import argparse

from loopvec.bench.cli.args import clean, path
from loopvec.bench.cli.errors import CLIError

CONVERT_DESCRIPTION = """\
Convert the book's sample_weight.pkl (or any .pkl/.npz holding W1, b1, W2, ...)
into an .npz. The pickle is read safely (only NumPy arrays and plain containers;
anything else is refused), the layer shapes are checked to chain, and OUT is
written atomically (a temporary file in the same folder, then renamed). OUT may not
be IN itself, nor anything but a regular file (a device, a fifo, a folder).
"""



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert-weights", help="turn the book's sample_weight.pkl into .npz (safely)",
                       description=CONVERT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=path, metavar="IN.pkl", help="weights to read (.pkl, read safely, or .npz)")
    p.add_argument("output", type=path, metavar="OUT.npz", help="the .npz to write (replaced atomically if it is a file)")
    p.set_defaults(func=cmd_convert_weights)


def cmd_convert_weights(args: argparse.Namespace) -> int:
    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.weights import load_weights, save_npz

    try:
        network = load_weights(args.input)
        out = save_npz(network, args.output, source=args.input)
    except DataError as exc:
        raise CLIError(clean(exc)) from None
    layers = ", ".join(f"W{k} {W.shape} b{k} {b.shape}" for k, (W, b) in enumerate(network.layers, start=1))
    print(f"wrote {out}: {layers}, {network.dtype}")
    return 0
