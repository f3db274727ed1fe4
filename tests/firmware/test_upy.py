"""The pure firmware modules' checks, each run on CPython and on the MicroPython unix port."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.firmware import upy_env

SCRIPTS = sorted(p.stem for p in upy_env.CHECKS.glob("check_*.py"))


def _verdict(proc: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    found = re.search(r"^passed (\d+) failed (\d+)$", proc.stdout, re.M)
    assert found, proc.stdout + proc.stderr
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("script", SCRIPTS)
def test_on_micropython(script: str, mpy_dir: Path, tmp_path: Path) -> None:
    proc = upy_env.run_micropython(mpy_dir, script, tmp_path)
    passed, failed = _verdict(proc)
    assert failed == 0 and proc.returncode == 0, proc.stdout + proc.stderr
    assert passed > 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_on_cpython(script: str, tmp_path: Path) -> None:
    proc = upy_env.run_cpython(upy_env.CHECKS / f"{script}.py", tmp_path)
    passed, failed = _verdict(proc)
    assert failed == 0 and proc.returncode == 0, proc.stdout + proc.stderr
    assert passed > 0


@pytest.mark.parametrize("source", upy_env.firmware_sources(), ids=lambda p: p.name)
def test_compiles_with_mpy_cross(source: Path, tmp_path: Path) -> None:
    proc = subprocess.run([upy_env.MPY_CROSS, "-o", str(tmp_path / "out.mpy"), str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"


def test_a_cpython_only_construct_fails_mpy_cross(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("match x:\n    case 1:\n        pass\n")
    proc = subprocess.run([upy_env.MPY_CROSS, str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0
