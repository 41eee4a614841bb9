"""The README's results block, written by `loopvec report` from the committed runs.

The block sits between BEGIN and END in the repository's README.md; `loopvec report`
rewrites it (atomically, only when it changed), and a test fails when the README's
numbers differ from what report would write. Per machine: the MNIST-shaped forward
pass at batch 1, 100 and 10 000 through the ladder, and the book's claim measured:
how the loops stand against numpy (and torch, where it ran), with 95% intervals.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopvec.bench.measure.stats import ratio
from loopvec.bench.core import fmt_ratio, fmt_time, known, pm
from loopvec.bench.core import LADDER
from loopvec.bench.present.limits import binding, fmt_bytes
from loopvec.bench.present.rows import Row, inverted, rows
from loopvec.bench.store.model import Run, as_run
from loopvec.impls.impl_numpy import CHUNK
from loopvec.bench.store.atomic import write_atomic

BEGIN = "<!-- results:begin (written by `loopvec report` from the committed runs: edits here are overwritten) -->"
END = "<!-- results:end -->"
BATCHES = (1, 100, 10_000)


def _against(r: Row, impl: str, ref: str) -> str:
    """impl's time over ref's in one row, with its interval: '0.83x ±4%' (below 1: impl is faster)."""
    if impl not in r.estimate or ref not in r.estimate:
        return "-"
    stored = r.over_torch_iv.get(impl) if ref == "torch" else inverted(r.vs_numpy_iv[impl]) \
        if ref == "numpy" and impl in r.vs_numpy_iv else None  # the run's own intervals, when it stored them
    iv = stored or (ratio(r.passes[impl], r.passes[ref], key=f"{r.case}:{impl}/{ref}", num_workers=r.workers.get(impl),
                          den_workers=r.workers.get(ref)) if r.passes.get(impl) and r.passes.get(ref) else None)
    value = r.estimate[impl] / r.estimate[ref]
    return f"{value:.2f}x" + (f" {pm(iv)}" if iv is not None else "")


def machine_block(name: str, path: str, run: Run, rs: list[Row] | None = None) -> list[str]:
    """One machine's part of the block; `rs`: the run's rows, when the caller has them (with their passes)."""
    by_case = {r.case: r for r in (rows(run) if rs is None else rs)}
    forward = [(b, by_case.get(f"forward-mnist-b{b:04d}")) for b in BATCHES]
    forward = [(b, r) for b, r in forward if r is not None]
    if not forward:
        return []
    k = run.kernel or {}
    peak = run.peak_gflops.get("float64")
    one_process = not any(w for r in by_case.values() for w in r.workers.values())
    emulated = run.emulated or (run.isa not in (None, "native"))
    head = (f"**{name}**" + (f" (EMULATED {run.isa})" if emulated else "")
            + f" ([run]({path}), profile {known(run.profile)}, commit {known(run.commit)}"
            + (f"; numba-tuned kernel {k['isa']}, {k['float64']['mr']}x{k['float64']['nr']} vectors of "
               f"{k['float64']['lanes']}" if k.get("isa") and isinstance(k.get("float64"), dict) else "")
            + (f"; float64 peak {peak:.1f} GFLOP/s" if peak else "")
            + ("; one process, from before worker processes: its intervals cannot see the spread between processes"
               if one_process else "") + ")")
    out = [head, "", "| MNIST-shaped forward, float64 | " + " | ".join(f"batch {b:,}" for b, _ in forward) + " |",
           "| --- |" + " --- |" * len(forward)]
    for impl in [n for n in LADDER if any(n in r.estimate or n in r.note for _, r in forward)]:
        cells = []
        for _, r in forward:
            if impl in r.estimate:
                sp = r.vs_numpy_iv.get(impl)
                cells.append(fmt_time(r.estimate[impl])
                             + (f" (x{fmt_ratio(sp.value)} {pm(sp)} vs numpy)" if sp is not None else ""))
            else:
                cells.append(r.note.get(impl, "-"))
        out.append(f"| `{impl}` | " + " | ".join(cells) + " |")
    out.append("")
    big = by_case.get("forward-mnist-b10000")
    claims = []
    for case in ("forward-mnist-b0100", "forward-mnist-b10000", "forward-mnist-f32-b0100", "forward-mnist-f32-b10000"):
        r = by_case.get(case)
        if r is not None and "numba-parallel" in r.estimate and "numpy" in r.estimate:
            vs_torch = _against(r, "numba-parallel", "torch")
            claims.append(f"{case} {_against(r, 'numba-parallel', 'numpy')}"
                          + (f" (torch: {vs_torch})" if vs_torch != "-" else ""))
    if claims:
        out.append("numba-parallel's time over numpy's (95% interval; below 1 the loops win): " + "; ".join(claims)
                   + ".")
    if big is not None and "numba-parallel" in big.estimate and peak and big.flops:
        out.append(f"At batch 10 000 numba-parallel runs at {big.flops / big.estimate['numba-parallel'] / 1e9:.1f} "
                   f"GFLOP/s, {100 * big.flops / big.estimate['numba-parallel'] / 1e9 / peak:.0f}% of this run's "
                   f"measured peak.")
    sig = by_case.get("sigmoid-n1000000")
    if sig is not None and "numba-tuned" in sig.estimate and "numpy" in sig.estimate:
        out.append(f"Sigmoid of 10^6 values: numba-tuned {fmt_time(sig.estimate['numba-tuned'])}, numpy "
                   f"{fmt_time(sig.estimate['numpy'])} (numba-tuned's time over numpy's "
                   f"{_against(sig, 'numba-tuned', 'numpy')}).")
    out += limits_sentences(by_case, run)
    return out + [""]



def limits_sentences(by_case: dict[str, Row], run: Run) -> list[str]:
    """The memory lesson and the bandwidth yardstick, in the run's own figures."""
    out = []
    big = by_case.get("forward-mnist-b10000")
    if big is not None and all(i in big.memory for i in ("numpy", "numba-tuned")):
        np_mem, tu_mem = big.memory["numpy"], big.memory["numba-tuned"]
        out_bytes = 8 * 10 * big.size  # the (batch, 10) float64 result every implementation returns
        if isinstance(np_mem.get("peak_bytes"), int) and isinstance(tu_mem.get("peak_bytes"), int):
            out.append(f"Memory at batch 10 000: one numpy call allocates {fmt_bytes(np_mem['peak_bytes'])} at its peak "
                       f"beyond its input, numba-tuned {fmt_bytes(tu_mem['peak_bytes'])}; the result alone is "
                       f"{fmt_bytes(out_bytes)}. numpy's extra is its temporaries, a (samples, 50) and a (samples, 100) "
                       f"array per step of {CHUNK} samples; numba-tuned's tiles stay in cache "
                       f"(time: numpy {fmt_time(big.estimate.get('numpy', float('nan')))}, numba-tuned "
                       f"{fmt_time(big.estimate.get('numba-tuned', float('nan')))}).")
    bw = run.bandwidth
    rates = []
    for act in ("relu", "sigmoid", "softmax"):
        r = by_case.get(f"{act}-n1000000")
        if r is None or bw is None or not r.nbytes:
            continue
        got = binding(r, r.best() or "", run)
        if got is not None:
            rates.append(f"{act} {got[0]:.1f} GB/s ({r.best()}, {100 * got[2]:.0f}% of the "
                         f"{got[1].partition('|')[2]})")
    if rates:
        out.append("Activations of 10^6 float64 values against this run's measured bandwidth: " + "; ".join(rates) + ".")
    return out


def results_block(root: Path, runs: dict[str, tuple[Path, Run | dict[str, Any]]], readme_dir: Path) -> str:
    """The block's text (BEGIN to END) for the machines' newest complete runs (Runs, or their JSON),
    paths relative to the README."""
    return block_text(root, {name: machine_block(name, block_path(p, readme_dir), as_run(run, p))
                             for name, (p, run) in runs.items()}, readme_dir)


def block_path(path: Path, readme_dir: Path) -> str:
    """A run's link in the block: relative to the README's folder."""
    return os.path.relpath(path, readme_dir).replace(os.sep, "/")


def block_text(root: Path, blocks: dict[str, list[str]], readme_dir: Path) -> str:
    """The block from each machine's lines (machine_block), in the order given: report makes
    them one machine at a time, while it holds that machine's run."""
    out = [BEGIN, ""]
    for lines in blocks.values():
        out += lines
    ladders = [name for name in blocks if (root / f"{name}-ladder.png").exists()]
    if ladders:
        rel = os.path.relpath(root / f"{ladders[0]}-ladder.png", readme_dir).replace(os.sep, "/")
        out += [f"![the ladder on {ladders[0]}]({rel})", ""]
    return "\n".join(out + [END])


def has_block(readme: Path) -> bool:
    """Whether `readme` has the block (report makes the machines' lines only then)."""
    try:
        text = readme.read_text()
    except OSError:
        return False
    return BEGIN in text and END in text


def update_readme(readme: Path, block: str) -> bool:
    """Replace the block in `readme`; False when it has no block (nothing written) or is unchanged."""
    try:
        text = readme.read_text()
    except OSError:
        return False
    if BEGIN not in text or END not in text:
        return False
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + block + text[end:]
    if new == text:
        return False
    write_atomic(readme, new)
    return True
