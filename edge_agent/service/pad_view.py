"""What the pads show, as the agent sees it: the text of a display command, a warning when
that text has characters the pads' glyph files lack, and each device's screen drawn by the
firmware's own code (pad_render.py) for the status page.

The glyph files are the hall's ``pad-font/`` (tools/provision writes it beside the hall
file); a newer file (after ``--refresh-display``) is picked up at the next display command.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

from edge_agent.config import DeviceConfig, HallConfig
from edge_agent.pad_render import SCREENS, PadRenderer
from edge_agent.padfont import SMALL_FILE, codepoints, font_dir

log = logging.getLogger("edge_agent.pad_view")
NAMED_SCREENS = ("invite", "serving", "welcome")
CACHE_MAX = 512
MISSING_MAX = 100  # names listed on the status page


def pad_text(config: HallConfig, screen: str, staff: str | None) -> str:
    """The text of a display command: on the screens that name the staff member, the name
    and, after a newline, the staff number (工号), which the invite screen shows."""
    if staff is None or screen not in NAMED_SCREENS:
        return ""
    member = config.service.staff.get(staff)
    return f"{member.name}\n{staff}" if member else staff


class PadView:
    def __init__(self, config: HallConfig) -> None:
        self._config = config
        self._folder = font_dir(config)
        self._stamp: float | None = None
        self._has: frozenset[int] | None = None  # None: no glyph file
        self._renderer: PadRenderer | None = None
        self._loaded = False
        self._images: dict[tuple[Any, ...], str] = {}
        self.missing: dict[str, str] = {}  # text sent -> the characters the pads lack
        self._load()

    def _load(self) -> None:
        path = self._folder / SMALL_FILE
        try:
            stamp: float | None = path.stat().st_mtime
        except OSError:
            stamp = None
        if stamp == self._stamp and self._loaded:
            return
        self._stamp = stamp
        self._loaded = True
        self._images.clear()
        self.missing.clear()
        try:
            self._has = codepoints(path.read_bytes()) if stamp is not None else None
        except OSError:
            self._has = None
        if self._has is None:
            log.warning("no pad glyph file at %s: pads show boxes for Chinese text "
                        "(tools/provision writes it)", path)
        if self._renderer is not None:
            self._renderer.close()
        try:
            self._renderer = PadRenderer(self._folder, {})
        except (OSError, ImportError) as exc:  # no firmware/ beside the package
            log.warning("pad screens not drawn on the status page: %s", exc)
            self._renderer = None

    def sent(self, text: str) -> None:
        """A display command with `text` is going out: warn (once per text) when the pads'
        font lacks some of its characters."""
        self._load()
        if self._has is None or not text or text in self.missing:
            return
        lacking = "".join(sorted({ch for ch in text if ch != "\n" and ord(ch) not in self._has}))
        if lacking and len(self.missing) < MISSING_MAX:
            self.missing[text] = lacking
            log.warning("pads lack %s of %r: they show a box for each; run tools/provision "
                        "--refresh-display for each pad after adding the name to the hall file",
                        lacking, text.replace("\n", " "))

    def status(self) -> dict[str, Any]:
        return {"font": str(self._folder / SMALL_FILE) if self._has is not None else None,
                "missing": [{"text": t.replace("\n", " "), "chars": c}
                            for t, c in self.missing.items()]}

    def image(self, device: DeviceConfig, screen: str, staff: str | None) -> str | None:
        """The device's screen: the display's 1024 bytes (128x64, MONO_VLSB), base64."""
        if self._renderer is None or device.kind not in ("pad", "sign"):
            return None
        shown = "welcome" if screen == "serving" else screen
        if shown not in SCREENS:
            return None
        text = pad_text(self._config, screen, staff)
        key = (device.kind, device.keys, device.counter, shown, text)
        cached = self._images.get(key)
        if cached is None:
            if len(self._images) >= CACHE_MAX:
                self._images.clear()
            settings = {"kind": device.kind, "keys": device.keys,
                        "counter": self._config.counters.get(device.counter, device.counter),
                        "captions": self._config.display.captions()}
            raw = self._renderer.render(SCREENS.index(shown), text, settings)
            cached = self._images[key] = base64.b64encode(raw).decode("ascii")
        return cached

    @property
    def folder(self) -> Path:
        return self._folder
