"""What the tuned Numba kernels compile for, and the shape of kernel that fits it.

Numba compiles for one CPU: the name in NUMBA_CPU_NAME (numba.config.CPU_NAME) or else the
host's, with the features in NUMBA_CPU_FEATURES (numba.config.CPU_FEATURES) or else the
host's (with only NUMBA_CPU_NAME set, Numba keeps the host's features; NUMBA_ENABLE_AVX=0
strips avx*). This module reads the same settings and derives from them:

- the vector width: 512 bits with avx512f, 256 with avx2 or avx, 128 otherwise on x86-64
  (SSE2, which every x86-64 has) and on aarch64 (NEON);
- the vector register count: 32 with avx512f (zmm0-31) and on aarch64 (v0-31), else 16;
- whether the target has a fused multiply-add (fma, or avx512f; always on aarch64);
- the register block of the dense kernel, sized as BLIS sizes its micro-kernels: MR
  samples x NR vectors of accumulators, plus NR panel loads and one broadcast, within the
  register file. 32 registers: 8 x 2 (16 accumulators + 2 + 1 = 19); 16 registers: 6 x 2
  (12 + 2 + 1 = 15; without FMA the product needs one more: 16).

The kernel modules (_simd, _numba_blocks, impl_numba_tuned) read `shape()` once, at import,
as module constants: Numba freezes them into the compiled code and LLVM drops the blocks
the shape does not use. The derivation itself (`derive`) is a pure function of the name,
the feature string and the architecture, so it can be tested for targets other than this one.
"""
from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["KernelShape", "Target", "block", "derive", "current", "shape", "describe", "key"]


@dataclass(frozen=True)
class KernelShape:
    """The dense kernel's shape for one dtype on one target."""

    cpu: str  # the target CPU name LLVM compiles for (e.g. "znver3", "haswell", "x86-64")
    isa: str  # "avx512", "avx2", "avx", "sse2" or "neon"
    vector_bits: int  # width of one SIMD register the kernels use
    registers: int  # vector registers in the register file
    lanes: int  # elements per vector: vector_bits / element bits
    mr: int  # samples per register block
    nr: int  # vectors of neurons per register block (a panel is nr * lanes neurons)


@dataclass(frozen=True)
class Target:
    """A compile target as the kernels see it (see the module docstring)."""

    cpu: str
    features: str  # the feature string as given, e.g. "+avx2,+fma,-avx512f"
    arch: str  # "x86_64" or "aarch64"
    isa: str
    vector_bits: int
    registers: int
    fma: bool

    def shape(self, dtype: Any = np.float64) -> KernelShape:
        """The kernel shape for dtype (float64 or float32)."""
        bits = np.dtype(dtype).itemsize * 8
        mr, nr = block(self.registers, self.fma)
        return KernelShape(self.cpu, self.isa, self.vector_bits, self.registers, self.vector_bits // bits, mr, nr)


def block(registers: int, fma: bool) -> tuple[int, int]:
    """(MR, NR): 8 x 2 where its 16 accumulators, 2 panel loads, one broadcast (and without
    FMA one product) fit the register file, else 6 x 2 (12 + 2 + 1 (+ 1) = 15 or 16: every
    x86-64 and aarch64 target has at least 16 vector registers)."""
    return (8, 2) if 8 * 2 + 2 + 1 + (0 if fma else 1) <= registers else (6, 2)


# CPU names whose default features (LLVM's X86.td) include a vector extension that matters
# here; features given explicitly override them. Names not listed get SSE2 (x86-64's base).
_AVX512_CPUS = frozenset("""
    skylake-avx512 cascadelake cooperlake cannonlake icelake-client icelake-server tigerlake
    rocketlake sapphirerapids emeraldrapids graniterapids graniterapids-d diamondrapids
    knl knm znver4 znver5 x86-64-v4
""".split())
_AVX2_CPUS = frozenset("""
    haswell core-avx2 broadwell skylake alderlake raptorlake meteorlake arrowlake arrowlake-s
    lunarlake pantherlake gracemont sierraforest grandridge clearwaterforest znver1 znver2
    znver3 bdver4 x86-64-v3
""".split())  # all with FMA
_AVX_FMA_CPUS = frozenset("bdver2 bdver3".split())
_AVX_CPUS = frozenset("sandybridge corei7-avx ivybridge core-avx-i btver2 bdver1".split())

# LLVM's implications between the features that matter here: enabling one enables these ...
_IMPLIES = {"avx512f": ("avx2", "fma", "avx"), "avx2": ("avx",), "fma": ("avx",)}
# ... and disabling one disables the features that imply it
_IMPLIED_BY = {"avx": ("avx2", "fma", "avx512f"), "avx2": ("avx512f",), "fma": ("avx512f",)}


def _x86_features(cpu: str, features: str) -> set[str]:
    """The vector features of an x86-64 target: the CPU name's defaults, then the feature
    string's +f / -f in order (later ones win), with LLVM's implications applied."""
    on: set[str] = set()
    name = cpu.lower()
    if name in _AVX512_CPUS:
        on |= {"avx512f", "avx2", "fma", "avx"}
    elif name in _AVX2_CPUS:
        on |= {"avx2", "fma", "avx"}
    elif name in _AVX_FMA_CPUS:
        on |= {"fma", "avx"}
    elif name in _AVX_CPUS:
        on |= {"avx"}
    for item in features.split(","):
        item = item.strip()
        if len(item) < 2 or item[0] not in "+-":
            continue
        feat = item[1:].lower()
        if item[0] == "+":
            on |= {feat, *_IMPLIES.get(feat, ())}
        else:
            on -= {feat, *_IMPLIED_BY.get(feat, ())}
    return on


def _arch(triple_or_machine: str) -> str:
    m = triple_or_machine.split("-")[0].lower()
    if m in ("aarch64", "arm64"):
        return "aarch64"
    if m in ("x86_64", "amd64", "x86-64"):
        return "x86_64"
    return m


def derive(cpu: str, features: str, arch: str = "x86_64") -> Target:
    """The target for CPU name `cpu` with LLVM feature string `features` on `arch`
    ("x86_64" or "aarch64", or a triple starting with one)."""
    arch = _arch(arch)
    if arch == "aarch64":
        return Target(cpu, features, arch, "neon", 128, 32, True)
    if arch != "x86_64":  # another architecture: assume 128-bit vectors, 16 registers, no FMA
        return Target(cpu, features, arch, "generic", 128, 16, False)
    on = _x86_features(cpu, features)
    if "avx512f" in on:
        return Target(cpu, features, arch, "avx512", 512, 32, True)
    if "avx2" in on:
        return Target(cpu, features, arch, "avx2", 256, 16, "fma" in on)
    if "avx" in on:
        return Target(cpu, features, arch, "avx", 256, 16, "fma" in on)
    return Target(cpu, features, arch, "sse2", 128, 16, False)


def _numba_target() -> tuple[str, str, str]:
    """(cpu name, features, triple) as Numba's CPU codegen picks them."""
    import llvmlite.binding as llb
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    cpu = config.CPU_NAME or llb.get_host_cpu_name()
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    try:
        triple = llb.get_process_triple()
    except Exception:  # pragma: no cover
        triple = platform.machine()
    return cpu, features, triple


_current: Target | None = None


def current() -> Target:
    """The target Numba compiles for in this process (read once, then cached)."""
    global _current
    if _current is None:
        cpu, features, triple = _numba_target()
        _current = derive(cpu, features, triple)
    return _current


def shape(dtype: Any = np.float64) -> KernelShape:
    """The dense kernel's shape for dtype on the target Numba compiles for."""
    return current().shape(dtype)


def _pin(t: Target | None) -> None:
    """Use target t instead of Numba's (None: Numba's again). For tests that compile the
    kernels for another target on paper: call it before the kernel modules are imported."""
    global _current
    _current = t


def key(t: Target | None = None) -> str:
    """8 hex digits naming target t (default: the current one) by its architecture, CPU
    name and features: one Numba cache folder each."""
    t = current() if t is None else t
    return hashlib.sha256(f"{t.arch}\0{t.cpu}\0{t.features}".encode()).hexdigest()[:8]


def describe() -> dict[str, Any]:
    """The target and the kernel shape per dtype, JSON-able: for results and `loopvec list`."""
    t = current()
    out: dict[str, Any] = {"cpu": t.cpu, "arch": t.arch, "isa": t.isa, "vector_bits": t.vector_bits,
                           "registers": t.registers, "fma": t.fma, "key": key()}
    for dt in ("float64", "float32"):
        s = asdict(t.shape(dt))
        out[dt] = {k: s[k] for k in ("lanes", "mr", "nr")}
    return out
