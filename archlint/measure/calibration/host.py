"""What the operating system says about this machine: what calibration does not time.

The channel block follows from the vector ISA the CPU reports (onnxruntime's NCHWc kernels pack
16 fp32 channels with AVX-512 and 8 with AVX2; ARM NEON holds 4), the main-memory size from the
kernel, the processor's name for the profile's description.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Host:
    cpu: str
    machine: str  # platform.machine(): x86_64, aarch64, arm64
    flags: frozenset[str]
    memory_bytes: int | None

    @property
    def fp32_block(self) -> tuple[int, str]:
        """(channels per vector block, the ISA feature that sets it)."""
        if "avx512f" in self.flags:
            return 16, "avx512f"
        if "avx2" in self.flags:
            return 8, "avx2"
        if self.machine in ("aarch64", "arm64"):
            return 4, "NEON (128-bit)"
        return 1, "no wide vector unit reported"

    @property
    def is_x86(self) -> bool:
        return self.machine in ("x86_64", "AMD64", "i686")


def read_host() -> Host:
    cpuinfo = _read("/proc/cpuinfo")
    name, flags = platform.processor() or platform.machine(), frozenset[str]()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and name in ("", platform.machine()):
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return Host(name, platform.machine(), flags, _memory_bytes())


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform names these
        return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
