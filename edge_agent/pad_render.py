"""What a pad or sign shows, drawn on CPython by the firmware's own code.

firmware/screens.py and firmware/glyphs.py import nothing, so they are loaded here by path
(under private module names) and run against the pure-Python framebuf of pixels.py: the
bytes are the SSD1306's memory (128x64, MONO_VLSB), the same bytes the board and the
MicroPython unix port produce (tests/firmware/test_screens.py checks it).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from edge_agent import pixels
from edge_agent.padfont import DISPLAY_FILE, LARGE_FILE, SMALL_FILE
from edge_agent.rules.vocabulary import Screen

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
WIDTH = 128
HEIGHT = 64
# The screens a pad draws, in the order of their wire numbers (wire.ScreenCode).
SCREENS = (Screen.CLOSED, Screen.WELCOME, Screen.INVITE, Screen.THANKS, Screen.PAUSED)


def _firmware_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_firmware_{name}", FIRMWARE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"{FIRMWARE / name}.py: cannot load")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PadRenderer:
    """The fonts and captions of one pad or sign, from a folder as provisioning writes it
    (font16.bin, font32.bin, display.json)."""

    def __init__(self, folder: Path, settings: dict[str, Any] | None = None) -> None:
        glyphs = _firmware_module("glyphs")
        self._screens_mod = _firmware_module("screens")
        if settings is None:
            settings = load_settings(folder)
        self.small = glyphs.Glyphs(str(folder / SMALL_FILE), 16, pixels)
        self.large = glyphs.Glyphs(str(folder / LARGE_FILE), 32, pixels)
        self.screens = self._screens_mod.Screens(self.small, self.large, settings)

    def render(self, screen: int, text: str, settings: dict[str, Any] | None = None) -> bytes:
        """The display's memory after drawing `screen` with the agent's `text`; `settings`
        (display.json's) for another device with the same fonts."""
        screens = self.screens
        if settings is not None:
            screens = self._screens_mod.Screens(self.small, self.large, settings)
        buf = bytearray(WIDTH * HEIGHT // 8)
        screens.draw(pixels.FrameBuffer(buf, WIDTH, HEIGHT, pixels.MONO_VLSB), screen, text)
        return bytes(buf)

    def fault(self) -> int:
        fault: int = self.screens.fault()
        return fault

    def close(self) -> None:
        self.small.close()
        self.large.close()


def load_settings(folder: Path) -> dict[str, Any]:
    try:
        settings = json.loads((folder / DISPLAY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def is_lit(buf: bytes, x: int, y: int) -> bool:
    """A pixel of the display's memory (MONO_VLSB)."""
    return bool(buf[(y >> 3) * WIDTH + x] & (1 << (y & 7)))
