"""Where the servers' programs are: Debian's path (installed by tools/bootstrap), else PATH."""

from __future__ import annotations

import os
import shutil


class HarnessError(RuntimeError):
    """A server of the harness could not be found or started; the message says why."""


def find_binary(name: str, debian_path: str) -> str:
    """The program's path, or HarnessError naming the Debian package tools/bootstrap installs."""
    found = debian_path if os.access(debian_path, os.X_OK) else shutil.which(name)
    if found is None:
        raise HarnessError(f"{name} is not installed (no {debian_path}): run tools/bootstrap, "
                           f"which installs Debian's {name} package")
    return found
