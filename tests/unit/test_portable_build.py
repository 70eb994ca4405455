"""The installed llama.cpp is a portable build: no native CPU flags, nothing past the baseline.

A llama.cpp built with -march=native on one CPU crashed on another (docs/embedded.md), and the
product did not start. `scripts/install-llama.sh` builds with a fixed baseline; these tests fail
if the library in the venv came from anywhere else (pip's cache, a hand install, a native build).
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip("llama_cpp")

X86 = platform.machine().lower() in {"x86_64", "amd64"}
# Instruction sets a portable x86-64 build must not assume: they are missing on many CPUs
# this project runs on (AMD before Zen 4, Intel client parts, older Xeons).
BEYOND_BASELINE = re.compile(r"^(AVX512.*|AVX_VNNI|AVX_VNNI_INT8|AMX.*|AVXVNNI.*)$")


def _features() -> dict[str, bool]:
    info = llama_cpp.llama_print_system_info()
    text = info.decode() if isinstance(info, bytes) else str(info)
    return {name: value == "1" for name, value in re.findall(r"(\w+) = (\d)", text)}


def _library(name: str) -> Path:
    folder = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(folder.glob(f"{name}.so*")) or sorted(folder.glob(f"{name}*.so*"))
    if not found:
        pytest.skip(f"no {name} library in {folder}")
    return found[0]


@pytest.mark.skipif(not X86, reason="the x86-64 baseline; arm64 builds plain ARMv8-A")
def test_llama_cpp_reports_no_instruction_set_beyond_the_baseline() -> None:
    features = _features()
    assert features.get("AVX2"), f"the baseline includes AVX2: {features}"
    beyond = sorted(name for name, on in features.items() if on and BEYOND_BASELINE.match(name))
    assert not beyond, f"llama.cpp was built for this CPU, not portably: {beyond}"


@pytest.mark.skipif(not X86, reason="x86-64 registers")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
def test_llama_cpp_machine_code_uses_no_avx512_registers() -> None:
    """What the library reports could lie; its code cannot. A native build on any AVX-512
    CPU (the Intel and AMD machines this runs on) fills the matrix kernels with zmm registers."""
    library = _library("libggml-cpu")
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ymm" in listing, "expected AVX2 code in the CPU backend"
    assert "zmm" not in listing, f"{library.name} holds AVX-512 code: a native build"


def test_the_venv_records_a_portable_build_of_llama_cpp() -> None:
    record = Path(sys.prefix) / ".llama-cmake-args"
    if not record.exists():
        pytest.skip("llama-cpp-python was not installed by scripts/install-llama.sh")
    flags = record.read_text()
    assert "-DGGML_NATIVE=OFF" in flags
    assert "GGML_NATIVE=ON" not in flags and "march=native" not in flags
