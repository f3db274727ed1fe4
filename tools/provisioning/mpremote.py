"""The copy to the board: one mpremote session (firmware, display files, config.json, reset)."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tools.provisioning.device import EXIT_FAILED, ProvisionError

MPREMOTE_ENV = "WE_MPREMOTE"


def mpremote_argv(command: Sequence[str], port: str, config: Path | None,
                  firmware: Sequence[Path], display: Sequence[Path] = ()) -> list[str]:
    """One mpremote session: firmware (if any), the display files, then config.json, then
    a hard reset so the board boots into its power-on self-test with the new config."""
    argv = [*command, "connect", port]
    if firmware:
        argv += ["fs", "cp", "-r", *map(str, firmware), ":", "+"]
    for path in display:
        argv += ["fs", "cp", str(path), f":{path.name}", "+"]
    if config is not None:
        argv += ["fs", "cp", str(config), ":config.json", "+"]
    return [*argv, "reset"]


def mpremote_command(option: str | None) -> list[str]:
    return shlex.split(option or os.environ.get(MPREMOTE_ENV) or "mpremote")


def run_mpremote(argv: list[str], config: Path, port: str) -> None:
    retry = f"mpremote connect {port} fs cp {config} :{config.name}"
    try:
        result = subprocess.run(argv, check=False)
    except OSError as exc:
        raise ProvisionError(
            f"--mpremote: cannot run {argv[0]!r} ({exc.strerror}); install it with "
            f"'pip install mpremote' or set {MPREMOTE_ENV}. Nothing was registered.",
            EXIT_FAILED,
        ) from None
    if result.returncode != 0:
        raise ProvisionError(
            f"--mpremote: mpremote exited with status {result.returncode}; check the cable "
            f"and --port, then run the same command again (or copy by hand: {retry}). "
            "Nothing was registered.",
            EXIT_FAILED,
        )
