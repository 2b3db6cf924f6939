"""One line naming the machine a benchmark ran on: CPU model, vector instructions and cores, GPU, torch version.

The vector instruction set is part of it because CPU kernels choose their code path by it, and with it their
rounding: the same seed trains another model on an AVX2 machine than on an AVX-512 one
(benchmarks/isa_reproducibility.py).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpuinfo(field: str) -> str | None:
    """The value of the first `field` line of /proc/cpuinfo ("model name", "flags"), or None where there is none."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), None)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, or the architecture where there is none."""
    return cpuinfo("model name") or platform.machine()


# environment variables that hold a CPU library to a lower instruction set (benchmarks/isa_reproducibility.py)
ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_CBWR")


def vector_isa() -> str:
    """The widest x86 vector instruction set the CPU reports (AVX-512, AVX2, or torch's view elsewhere), and any
    limit the environment sets on the libraries' use of it."""
    flags = (cpuinfo("flags") or "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else torch.backends.cpu.get_cpu_capability()
    limits = [f"{name}={os.environ[name]}" for name in ISA_LIMITS if os.environ.get(name)]
    return ", ".join([isa, *limits])


def describe_machine() -> str:
    """CPU model (vector instructions) and cores, GPU and torch version in one line."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu_name()} ({vector_isa()}), {os.cpu_count()} CPU cores, {gpu}, torch {torch.__version__}"
