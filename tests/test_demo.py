"""The demo's entry point, `python -m tools.demo` (README's main command after the
bootstrap). The live simulated hall it runs by default takes minutes; its whole chain is
tested in short form by tests/sim/test_center_e2e.py. Here: the replay mode and bad options.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.demo", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_replay_catches_every_injected_cheat() -> None:
    """`tools/demo --replay`: the shipped sample day through the rules, journal and report."""
    proc = demo("--replay")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Every injected behaviour was caught; no honest counter was penalised." in proc.stdout
    assert "MISMATCH" not in proc.stdout and "FALSE POSITIVE" not in proc.stdout
    assert "var/demo-replay/journal.sqlite" in proc.stdout


def test_a_bad_option_is_exit_2_with_a_message_and_starts_nothing() -> None:
    proc = demo("--speed", "0")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "demo: --speed and --counters must be greater than 0"
    proc = demo("--speed", "fast")
    assert proc.returncode == 2 and "invalid float value: 'fast'" in proc.stderr
