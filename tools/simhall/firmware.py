"""The pad firmware's modules (firmware/*.py), imported under CPython.

They import one another by top-level name (`import frame`), as on the board's flash, so the
firmware folder goes on sys.path. Only the pure modules are used: the board layer is the
simulator's (pins in devices.py, links in serial_port.py and mqtt_port.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def module(name: str) -> ModuleType:
    """A firmware module; ImportError if the name resolves anywhere but firmware/."""
    folder = str(FIRMWARE)
    if folder not in sys.path:
        sys.path.append(folder)
    mod = importlib.import_module(name)
    origin = Path(getattr(mod, "__file__", "") or "")
    if origin.parent != FIRMWARE:
        raise ImportError(f"firmware module {name!r} resolved to {origin}, not {FIRMWARE}")
    return mod
