"""What the pads show, as the agent sees it: the text of a display command, a warning when
that text has characters the pads' glyph files lack, and each device's screen drawn by the
firmware's own code (pad_render.py) for the status page.

The glyph files are the hall's ``pad-font/`` (tools/provision writes it beside the hall
file); a newer file (after ``--refresh-display``) is picked up at the next display command.

Screens are drawn by a thread of their own and cached: the status snapshot, built on the
core loop, only looks them up, so drawing (a few ms of pure Python) never delays a press.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from pathlib import Path
from typing import Any

from edge_agent.config import DeviceConfig, HallConfig
from edge_agent.pad_render import FIRMWARE, SCREENS, PadRenderer
from edge_agent.padfont import SMALL_FILE, codepoints, font_dir
from edge_agent.rules.vocabulary import FRAME_KINDS, Screen

log = logging.getLogger("edge_agent.pad_view")
NAMED_SCREENS = (Screen.INVITE, Screen.SERVING, Screen.WELCOME)
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
        self._loaded = False
        self._generation = 0  # bumped when the glyph files change: the drawer reloads
        self._images: dict[tuple[Any, ...], str] = {}
        self._jobs: queue.Queue[tuple[int, tuple[Any, ...], dict[str, Any], str]] = (
            queue.Queue(CACHE_MAX))
        self._queued: set[tuple[Any, ...]] = set()
        self._drawer: threading.Thread | None = None
        self._drawable = FIRMWARE.is_dir()
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
        self._generation += 1
        self._images = {}
        self.missing.clear()
        try:
            self._has = codepoints(path.read_bytes()) if stamp is not None else None
        except OSError:
            self._has = None
        if self._has is None:
            log.warning("no pad glyph file at %s: pads show boxes for Chinese text "
                        "(tools/provision writes it)", path)

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
        """The device's screen: the display's 1024 bytes (128x64, MONO_VLSB), base64; None
        until the drawer has drawn it (the next snapshot has it)."""
        if not self._drawable or device.kind not in FRAME_KINDS:
            return None
        shown = Screen.WELCOME if screen == Screen.SERVING else screen
        if shown not in SCREENS:
            return None
        text = pad_text(self._config, screen, staff)
        key = (device.kind, device.keys, device.counter, shown, text)
        cached = self._images.get(key)
        if cached is None and key not in self._queued:
            settings = {"kind": device.kind, "keys": device.keys,
                        "counter": self._config.counters.get(device.counter, device.counter),
                        "captions": self._config.display.captions()}
            try:
                self._jobs.put_nowait((self._generation, key, settings, text))
            except queue.Full:
                return None
            self._queued.add(key)
            self._start_drawer()
        return cached

    def _start_drawer(self) -> None:
        if self._drawer is None:
            self._drawer = threading.Thread(target=self._draw_loop, name="pad-screens",
                                            daemon=True)
            self._drawer.start()

    def _draw_loop(self) -> None:
        renderer: PadRenderer | None = None
        generation = -1
        while True:
            job_generation, key, settings, text = self._jobs.get()
            try:
                if job_generation != self._generation:
                    continue  # drawn with glyph files since replaced
                if renderer is None or generation != job_generation:
                    if renderer is not None:
                        renderer.close()
                    renderer = PadRenderer(self._folder, {})
                    generation = job_generation
                raw = renderer.render(SCREENS.index(key[3]), text, settings)
                images = self._images
                if len(images) >= CACHE_MAX:
                    images.clear()
                images[key] = base64.b64encode(raw).decode("ascii")
            except Exception:  # never let a drawing bug stop the agent; log and go on
                log.exception("drawing a pad screen for the status page failed")
            finally:
                self._queued.discard(key)
                self._jobs.task_done()

    def drawn(self) -> None:
        """Wait until every screen asked for so far is drawn (for tests)."""
        self._jobs.join()

    @property
    def folder(self) -> Path:
        return self._folder
