"""loopvec.impls.target: the compile target and the kernel shape derived from it.

* The derivation from a CPU name and a feature string, for AVX-512, AVX2, AVX, SSE2 and
  aarch64 (pure functions), and its CPU-name table checked against LLVM itself.
* On paper: the register blocks each shape selects, compiled for AVX-512, AVX2, SSE2 (x86
  assembly, compiled without running) and NEON (the LLVM IR retargeted to aarch64), keep
  their accumulators in registers: no vector load or store to the stack in the hot loop.
* Slow: the agreement tests in a subprocess with Numba compiled for another ISA than the
  host's best (NUMBA_CPU_NAME / NUMBA_CPU_FEATURES), each with its own Numba cache.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loopvec.impls import target

ROOT = Path(__file__).resolve().parent.parent
X86 = platform.machine().lower() in ("x86_64", "amd64")

# ---------------------------------------------------------------- the derivation

# feature strings as Numba passes them to LLVM (host features: every feature, + or -)
AVX512_HOST = "+avx,+avx2,+fma,+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl,+sse2,+sse4.2"
AVX2_HOST = "+avx,+avx2,+fma,-avx512f,-avx512bw,-avx512cd,-avx512dq,-avx512vl,+sse2,+sse4.2"
SSE2_ONLY = "-avx,-avx2,-fma,-avx512f,+sse2"


@pytest.mark.parametrize("cpu, features, arch, isa, bits, regs, fma", [
    ("skylake-avx512", AVX512_HOST, "x86_64", "avx512", 512, 32, True),
    ("skylake-avx512", "", "x86_64", "avx512", 512, 32, True),  # the name's own features
    ("znver4", "", "x86_64", "avx512", 512, 32, True),
    ("x86-64", "+avx512f", "x86_64", "avx512", 512, 32, True),  # avx512f implies avx2 and fma
    ("znver3", AVX2_HOST, "x86_64", "avx2", 256, 16, True),
    ("haswell", "", "x86_64", "avx2", 256, 16, True),
    ("skylake-avx512", "-avx512f", "x86_64", "avx2", 256, 16, True),
    ("haswell", "+avx2,+fma,-avx512f", "x86_64", "avx2", 256, 16, True),
    ("sandybridge", "", "x86_64", "avx", 256, 16, False),
    ("x86-64", SSE2_ONLY, "x86_64", "sse2", 128, 16, False),
    ("x86-64", "", "x86_64", "sse2", 128, 16, False),
    ("generic", "", "x86_64", "sse2", 128, 16, False),
    ("haswell", "-avx", "x86_64", "sse2", 128, 16, False),  # no avx: no avx2, no fma either
    ("znver3", AVX2_HOST + ",-fma", "x86_64", "avx2", 256, 16, False),
    ("neoverse-n1", "+neon", "aarch64", "neon", 128, 32, True),
    ("apple-m1", "", "aarch64-apple-darwin", "neon", 128, 32, True),
])
def test_derive(cpu: str, features: str, arch: str, isa: str, bits: int, regs: int, fma: bool) -> None:
    t = target.derive(cpu, features, arch)
    assert (t.isa, t.vector_bits, t.registers, t.fma) == (isa, bits, regs, fma)
    for dtype, ebits in ((np.float64, 64), (np.float32, 32)):
        s = t.shape(dtype)
        assert s.lanes == bits // ebits
        assert (s.cpu, s.isa, s.vector_bits, s.registers) == (cpu, isa, bits, regs)
        # the block's accumulators, its panel loads, one broadcast (and without FMA one product) fit
        assert s.mr * s.nr + s.nr + 1 + (0 if fma else 1) <= regs
        assert (s.mr, s.nr) == ((8, 2) if regs == 32 else (6, 2))


def test_shape_is_frozen_and_describe_is_json() -> None:
    s = target.shape(np.float64)
    with pytest.raises(AttributeError):
        s.mr = 3  # type: ignore[misc]
    d = json.loads(json.dumps(target.describe()))
    assert d["isa"] == s.isa and d["vector_bits"] == s.vector_bits and d["registers"] == s.registers
    assert d["float64"] == {"lanes": s.lanes, "mr": s.mr, "nr": s.nr}
    assert d["float32"]["lanes"] == 2 * s.lanes
    assert re.fullmatch(r"[0-9a-f]{8}", d["key"])


def test_current_target_is_numbas() -> None:
    import llvmlite.binding as llb
    from numba.core import config

    t = target.current()
    assert t.cpu == (config.CPU_NAME or llb.get_host_cpu_name())
    if config.CPU_FEATURES is not None:
        assert t.features == config.CPU_FEATURES
    from loopvec.impls import impl_numba_tuned as K
    from loopvec.impls import _simd

    assert _simd.lanes(np.float64) == target.shape(np.float64).lanes == K.lanes(np.float64)
    assert K.MR == target.shape().mr


def test_key_names_the_target() -> None:
    a = target.derive("haswell", AVX2_HOST)
    b = target.derive("x86-64", SSE2_ONLY)
    assert target.key(a) != target.key(b)
    assert target.key(a) == target.key(target.derive("haswell", AVX2_HOST))
    from loopvec.impls import _numba_setup

    folder = _numba_setup.cache_dir()
    assert folder is None or folder.endswith(target.key())


_PROBE_IR = """
define void @wide(ptr %p, ptr %q) {
  %a = load <8 x double>, ptr %p, align 8
  %b = load <8 x double>, ptr %q, align 8
  %c = fmul <8 x double> %a, %b
  store <8 x double> %c, ptr %p, align 8
  ret void
}
define double @fused(double %a, double %b, double %c) {
  %d = call double @llvm.fma.f64(double %a, double %b, double %c)
  ret double %d
}
declare double @llvm.fma.f64(double, double, double)
"""


@pytest.mark.skipif(not X86, reason="the table is of x86-64 CPU names")
@pytest.mark.parametrize("cpu", ["skylake-avx512", "icelake-server", "znver4", "x86-64-v4", "haswell",
                                 "znver3", "x86-64-v3", "bdver2", "sandybridge", "x86-64", "nehalem"])
def test_cpu_name_table_agrees_with_llvm(cpu: str) -> None:
    # compile an <8 x double> FMA for the CPU name alone: the widest register LLVM uses and
    # whether it emits an FMA instruction must be what derive() says
    import llvmlite.binding as llb

    llb.initialize_native_target()
    llb.initialize_native_asmprinter()
    tm = llb.Target.from_default_triple().create_target_machine(cpu=cpu, features="", opt=2)
    mod = llb.parse_assembly(_PROBE_IR)
    mod.triple = llb.get_default_triple()
    asm = tm.emit_assembly(mod)
    wide, fused = asm.split("fused:")
    widest = 512 if "zmm" in wide else 256 if "ymm" in wide else 128
    t = target.derive(cpu, "")
    assert widest == t.vector_bits, asm
    assert ("vfmadd" in fused) == t.fma, asm


# ---------------------------------------------------------------- register blocks on paper

def _hot_loop_stack_refs(asm: str, arch: str) -> tuple[int, int]:
    """(multiply-adds, vector loads/stores to the stack) in the innermost loop of asm with
    the most multiply-adds: a loop is a label and a later branch back to it."""
    lines = asm.splitlines()
    labels = {m.group(1): n for n, line in enumerate(lines) if (m := re.match(r"^(\.LBB\w+):", line))}
    if arch == "aarch64":
        mul = re.compile(r"\bf(mla|mul|madd)\b")
        stack = re.compile(r"\b[qdsv]\d+\b.*\[sp")
    else:
        mul = re.compile(r"vfmadd|mulp[sd]")
        stack = re.compile(r"mm\d+.*\(%rsp\)|\(%rsp\).*mm\d+")

    def target_of(line: str) -> int | None:
        m = re.search(r"\s(\.LBB\w+)\s*$", line)
        return labels.get(m.group(1)) if m and not line.startswith(".") else None

    loops = [(labels_at, n) for n, line in enumerate(lines)
             if (labels_at := target_of(line)) is not None and labels_at < n]
    best = (0, 0)
    for start, end in loops:
        if any(start <= s0 and e0 <= end and (s0, e0) != (start, end) for s0, e0 in loops):
            continue  # not innermost
        body = lines[start:end + 1]
        muls = sum(bool(mul.search(b)) for b in body)
        if muls > best[0]:
            best = (muls, sum(bool(stack.search(b)) for b in body))
    return best


# run in a subprocess (its own Numba cache, so that inspect_asm sees a fresh compile): compile
# the blocks the target's shape selects, print {block-dtype: assembly}
_PAPER = r"""
import json, re, sys
from loopvec.impls import target
pin = json.loads(sys.argv[1])
if pin:
    target._pin(target.derive(*pin))
from numba import types
from loopvec.impls import _numba_blocks as B
mr = target.shape().mr
names = ["block8x2" if mr == 8 else "block6x2", "block8x1", "block4x2", "block4x1", "tail4x2", "block1"]
out = {}
for dt in (types.float64, types.float32):
    A2, A1, i = types.Array(dt, 2, "C"), types.Array(dt, 1, "C"), types.int64
    sigs = {"2d": (A2, i, i, i, A1, i, i, i, A2), "4": (A1,) * 4 + (i, i, A1, i, i, i) + (A1,) * 4,
            "1": (A1, i, i, A1, i, i, i, A1), "tail": (A2, i, i, i, A1, i, i, i, i, A2)}
    for name in names:
        sig = sigs["4" if name.startswith("block4") else "1" if name == "block1" else
                   "tail" if name == "tail4x2" else "2d"]
        f = getattr(B, name)
        f.compile(sig)
        out[f"{name}-{dt}"] = f.inspect_llvm(sig) if pin and pin[2].startswith("aarch64") else f.inspect_asm(sig)
print(json.dumps({"shape": target.describe(), "code": out}))
"""


def _run(code: str, args: list[str], env_extra: dict[str, str], tmp: Path, timeout: float) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    env.update(env_extra, NUMBA_CACHE_DIR=str(tmp / "numba-cache"))
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _features(minus_prefixes: tuple[str, ...], plus: tuple[str, ...]) -> str:
    """A feature string: plus, then minus every LLVM x86 feature named with one of the prefixes
    (the names this LLVM knows, from the host's feature list)."""
    import llvmlite.binding as llb

    known = set(llb.get_host_cpu_features())
    minus = sorted(f for f in known if any(f.startswith(p) or f"-{p}" in f for p in minus_prefixes))
    return ",".join([f"+{f}" for f in plus] + [f"-{f}" for f in minus if f not in plus])


AVX2_FEATURES = ("avx512", "avx10", "amx-avx512")
SSE2_FEATURES = ("avx", "fma", "f16c", "xop", "vaes", "vpclmulqdq", "amx")
EMULATED = {  # isa: NUMBA_CPU_NAME, the +features, the feature-name prefixes to turn off
    "avx512": ("skylake-avx512", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "fma", "avx2"), ()),
    "avx2": ("haswell", ("avx", "avx2", "fma"), AVX2_FEATURES),
    "sse2": ("x86-64", ("sse2",), SSE2_FEATURES),
}


def _env(isa: str) -> dict[str, str]:
    cpu, plus, minus = EMULATED[isa]
    return {"NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": _features(minus, plus)}


@pytest.mark.slow  # a subprocess compiles the kernels for each instruction set
@pytest.mark.skipif(not X86, reason="compiles x86-64 code")
@pytest.mark.parametrize("isa", ["avx512", "avx2", "sse2"])
def test_blocks_keep_their_accumulators_in_registers_x86(isa: str, tmp_path: Path) -> None:
    # compiled, not run: any x86-64 host can compile AVX-512 code
    out = json.loads(_run(_PAPER, ["null"], _env(isa), tmp_path, timeout=600))
    assert out["shape"]["isa"] == isa
    for name, asm in out["code"].items():
        muls, stack = _hot_loop_stack_refs(asm, "x86_64")
        assert muls >= 4, f"{isa} {name}: no multiply-add loop found"
        assert stack == 0, f"{isa} {name}: {stack} vector loads/stores to the stack in the hot loop"
        wide = {"avx512": "zmm", "avx2": "ymm", "sse2": "xmm"}[isa]
        assert wide in asm and (isa == "avx512" or "zmm" not in asm) and (isa != "sse2" or "ymm" not in asm)


def _retarget(ir: str, triple: str, cpu: str, features: str) -> str:
    """Assembly for `triple` from LLVM IR that Numba compiled for the host: the host's CPU
    attributes dropped, functions that call host intrinsics (NRT_decref's atomic) declared."""
    import llvmlite.binding as llb

    llb.initialize_all_targets()
    llb.initialize_all_asmprinters()
    tm = llb.Target.from_triple(triple).create_target_machine(cpu=cpu, features=features, opt=3)
    ir = re.sub(r'"(target-cpu|target-features|tune-cpu)"="[^"]*"', "", ir)
    ir = re.sub(r'target triple = "[^"]*"', f'target triple = "{triple}"', ir)
    ir = re.sub(r'target datalayout = "[^"]*"', f'target datalayout = "{tm.target_data}"', ir)
    out: list[str] = []
    chunk: list[str] | None = None
    for line in ir.splitlines():
        if chunk is None and line.startswith("define"):
            chunk = [line]
        elif chunk is not None:
            chunk.append(line)
            if line == "}":
                if any("@llvm.x86." in c for c in chunk):
                    head = re.sub(r"^define\s+((linkonce_odr|internal|private|weak_odr|linkonce|weak|dso_local)\s+)*",
                                  "declare ", chunk[0])
                    out.append(head.rstrip(" {"))
                else:
                    out.extend(chunk)
                chunk = None
        elif "@llvm.x86." not in line:
            out.append(line)
    mod = llb.parse_assembly("\n".join(out))
    mod.verify()
    return tm.emit_assembly(mod)


def _aarch64_available() -> bool:
    import llvmlite.binding as llb

    try:
        llb.initialize_all_targets()
        llb.Target.from_triple("aarch64-unknown-linux-gnu")
        return True
    except Exception:
        return False


@pytest.mark.slow  # a subprocess compiles the kernels with the NEON shape
@pytest.mark.skipif(not X86, reason="retargets IR compiled by Numba on x86-64")
@pytest.mark.skipif(not _aarch64_available(), reason="this llvmlite has no aarch64 backend")
def test_blocks_keep_their_accumulators_in_registers_neon(tmp_path: Path) -> None:
    # the kernels compiled with the NEON shape (8 x 2 blocks of <2 x double> / <4 x float>),
    # their LLVM IR compiled to aarch64 assembly: 32 v-registers hold the 16 accumulators
    pin = json.dumps(["neoverse-n1", "+neon", "aarch64-unknown-linux-gnu"])
    out = json.loads(_run(_PAPER, [pin], {}, tmp_path, timeout=600))
    assert out["shape"]["isa"] == "neon" and out["shape"]["float64"] == {"lanes": 2, "mr": 8, "nr": 2}
    for name, ir in out["code"].items():
        asm = _retarget(ir, "aarch64-unknown-linux-gnu", "neoverse-n1", "+neon")
        muls, stack = _hot_loop_stack_refs(asm, "aarch64")
        assert muls >= 4, f"neon {name}: no multiply-add loop found"
        assert stack == 0, f"neon {name}: {stack} vector loads/stores to the stack in the hot loop"
    asm = _retarget(out["code"]["block8x2-float64"], "aarch64-unknown-linux-gnu", "neoverse-n1", "+neon")
    muls = _hot_loop_stack_refs(asm, "aarch64")[0]
    assert muls >= 16 and muls % 16 == 0  # 16 fmla per k, the whole 8 x 2 block (LLVM may unroll it on 32 registers)


# ---------------------------------------------------------------- agreement on other ISAs (slow)

def _host_runs(isa: str) -> str | None:
    """Why this host cannot run code for isa, or None when it can."""
    if not X86:
        return "not an x86-64 host"
    import llvmlite.binding as llb

    feats = llb.get_host_cpu_features()
    need = {"avx512": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma"),
            "avx2": ("avx2", "fma", "avx"), "sse2": ("sse2",)}[isa]
    missing = [f for f in need if not feats.get(f, False)]
    return f"this host lacks {', '.join(missing)}" if missing else None


_CHECK_TARGET = r"""
import sys
from loopvec.impls import target, _simd
import numpy as np
isa, bits, mr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = target.shape(np.float64)
assert (s.isa, s.vector_bits, s.mr) == (isa, bits, mr), s
assert _simd.lanes(np.float32) == bits // 32
from loopvec import impls
from loopvec.impls.network import mnist_shaped_network
p = impls.get("numba-tuned")
net = mnist_shaped_network(seed=1)
x = np.random.default_rng(0).uniform(0, 1, (13, 784))
got, want = p.forward(p.prepare(net), x), impls.get("numpy").forward(impls.get("numpy").prepare(net), x)
assert np.allclose(got, want, rtol=1e-10, atol=1e-12)
print("ok", s)
"""


@pytest.mark.slow
@pytest.mark.parametrize("isa, bits, mr", [("avx512", 512, 8), ("avx2", 256, 6), ("sse2", 128, 6)])
def test_agreement_compiled_for(isa: str, bits: int, mr: int, tmp_path: Path) -> None:
    why = _host_runs(isa)
    if why:
        pytest.skip(why)
    if target.shape(np.float64).isa == isa:
        pytest.skip(f"{isa} is what this process compiles for: plain pytest's agreement tests ran on it")
    env = _env(isa)
    assert "ok" in _run(_CHECK_TARGET, [isa, str(bits), str(mr)], env, tmp_path, timeout=900)
    cmd = [sys.executable, "-m", "pytest", "tests/test_agreement.py",  # the threaded paths: the same blocks
           "-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly"]
    full = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    full.update(env, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    proc = subprocess.run(cmd, env=full, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
