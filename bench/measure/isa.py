"""`--isa`: hold every implementation in the timed processes to one instruction set.

This is how a reader on an AVX-512 machine sees what an AVX2 laptop would get, and how
the narrow kernel shapes get tested on a wide machine. For each ISA, the environment
of the worker processes sets:
- Numba's target: NUMBA_CPU_NAME and NUMBA_CPU_FEATURES (the host's features with
  everything above the ISA switched off; a CPU name alone keeps the host's features);
- OpenBLAS's kernel: OPENBLAS_CORETYPE;
- torch's kernels: ATEN_CPU_CAPABILITY.
"native" changes nothing. An ISA this CPU cannot run is refused.
"""
from __future__ import annotations

import platform

ISAS = ("native", "avx512", "avx2", "sse2")
_ABOVE_AVX2 = ("avx512", "amx", "avx10", "avxvnni", "avxifma", "avxneconvert", "evex512")
_ABOVE_SSE2 = _ABOVE_AVX2 + ("avx", "fma", "f16c", "xop", "sse3", "ssse3", "sse4", "vaes", "vpclmulqdq", "gfni",
                             "sha", "aes", "pclmul")
# what each ISA needs of the host, Numba's CPU name for it, OpenBLAS's core type, torch's capability
_SPEC = {
    "avx512": (("avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"), "skylake-avx512", "SkylakeX", "avx512", ()),
    "avx2": (("avx2", "fma"), "haswell", "Haswell", "avx2", _ABOVE_AVX2),
    "sse2": (("sse2",), "x86-64", "Prescott", "default", _ABOVE_SSE2),
}


class IsaError(ValueError):
    """An ISA that is unknown, or that this CPU cannot run (one line)."""


def host_features() -> dict[str, bool]:
    """{feature: on} of this CPU, as LLVM (and so Numba) sees it."""
    import llvmlite.binding as ll

    out = {}
    for item in ll.get_host_cpu_features().flatten().split(","):
        if len(item) > 1 and item[0] in "+-":
            out[item[1:]] = item[0] == "+"
    return out


def _features(off: tuple[str, ...], host: dict[str, bool]) -> str:
    return ",".join(("-" if any(f.startswith(p) for p in off) else "+" if on else "-") + f
                    for f, on in sorted(host.items()))


def isa_env(isa: str, host: dict[str, bool] | None = None) -> dict[str, str]:
    """The environment variables that hold the worker processes to `isa` ({} for native)."""
    if isa == "native":
        return {}
    if isa not in _SPEC:
        raise IsaError(f"--isa {isa!r}: unknown; expected one of {', '.join(ISAS)}")
    needs, cpu, coretype, aten, off = _SPEC[isa]
    host = host_features() if host is None else host
    return {"NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": _features(off, host), "OPENBLAS_CORETYPE": coretype,
            "ATEN_CPU_CAPABILITY": aten}


def check_isa(isa: str, host: dict[str, bool] | None = None, machine: str | None = None) -> None:
    """Raise IsaError when `isa` is unknown or this CPU cannot run it."""
    if isa == "native":
        return
    if isa not in _SPEC:
        raise IsaError(f"--isa {isa!r}: unknown; expected one of {', '.join(ISAS)}")
    arch = (machine or platform.machine()).lower()
    if arch not in ("x86_64", "amd64"):
        raise IsaError(f"--isa {isa}: emulation is for x86-64 CPUs; this one is {arch} (use --isa native)")
    host = host_features() if host is None else host
    missing = [f for f in _SPEC[isa][0] if not host.get(f)]
    if missing:
        raise IsaError(f"--isa {isa}: this CPU cannot run it (no {', '.join(missing)}); expected one of "
                       + ", ".join(i for i in ISAS if i == "native" or all(host.get(f) for f in _SPEC[i][0])))
