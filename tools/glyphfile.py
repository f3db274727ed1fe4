"""Build the pads' glyph files from the hall's own text (layout: firmware/glyphs.py).

Every caption of ``[display]``, every counter name, every staff name and number of the hall
file, plus printable ASCII and the punctuation names use, is rendered from a Debian font
(``fonts-wqy-microhei``) with Pillow, without anti-aliasing, at 16 px (text) and at 32 px
(only the large captions). Characters the source font lacks are reported, not guessed: the
pad draws them as an empty box.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from edge_agent.config import DisplayConfig, HallConfig
from edge_agent.padfont import DISPLAY_FILE, HEADER, LARGE_FILE, MAGIC, SMALL_FILE, VERSION

SOURCE_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
SMALL = 16
LARGE = 32
# What every pad can draw whatever the hall says: ASCII and the punctuation of names and
# captions (middle dot of minority names, Chinese brackets and separators).
BASE_TEXT = "".join(chr(c) for c in range(0x20, 0x7F)) + "·、，。：；！？（）《》“”—…－"
LARGE_CAPTIONS = ("closed", "welcome", "thanks", "paused", "serving")
PROBE = "国"  # a glyph that fills the em box: its top sets the vertical offset
NOTDEF_PROBE = "\U0010fffd"  # a private-use code point no font has: its drawing is .notdef


def row_bytes(height: int) -> int:
    return (height + 7) // 8


def record_size(height: int) -> int:
    return 4 + row_bytes(height) * height


@dataclass
class Rendered:
    height: int
    glyphs: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # cp -> (width, bits)
    missing: list[str] = field(default_factory=list)  # lacking from the source font


@dataclass(frozen=True)
class HallText:
    """What a hall's pads may be asked to draw."""

    captions: dict[str, str]
    counters: dict[str, str]  # id -> name
    staff: dict[str, str]  # staff number (工号) -> name

    @classmethod
    def of(cls, config: HallConfig) -> HallText:
        return cls(config.display.captions(), dict(config.counters),
                   {sid: s.name for sid, s in config.service.staff.items()})

    @classmethod
    def of_document(cls, doc: dict[str, Any]) -> HallText:
        """From a parsed hall file that the agent's validation may not accept (provisioning
        keeps keys it does not know): only the names and captions are read."""

        def names(section: str) -> dict[str, str]:
            tables = doc.get(section)
            if not isinstance(tables, dict):
                return {}
            return {str(key): str(t.get("name", key)) if isinstance(t, dict) else str(key)
                    for key, t in tables.items()}

        display = doc.get("display")
        given = display if isinstance(display, dict) else {}
        captions = {key: str(given.get(key, value))
                    for key, value in DisplayConfig().captions().items()}
        return cls(captions, names("counters"), names("staff"))

    def texts(self) -> tuple[str, str]:
        """(text drawn at 16 px, text drawn at 32 px)."""
        small = [BASE_TEXT, *self.captions.values(), *self.counters.values(), *self.counters,
                 *self.staff.values(), *self.staff]
        large = [self.captions[name] for name in LARGE_CAPTIONS]
        return "".join(small), "".join(large)


def _renderer(height: int, source: Path) -> tuple[ImageFont.FreeTypeFont, int]:
    """The font at the largest size whose CJK and descenders fit `height`, and the
    vertical offset that puts the CJK box at the top of the cell."""
    size = height
    while size > height // 2:
        font = ImageFont.truetype(str(source), size)
        top = font.getbbox(PROBE)[1]
        bottom = max(font.getbbox(ch)[3] for ch in (PROBE, "g", "y", "（"))
        if bottom - top <= height:
            return font, -int(top)
        size -= 1
    raise ValueError(f"{source}: cannot fit {height} px")


def _bits(font: ImageFont.FreeTypeFont, offset: int, height: int, ch: str) -> bytes:
    image = Image.new("1", (row_bytes(height) * 8, height), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    draw.text((0, offset), ch, font=font, fill=1)
    # Pillow's mode "1" packs rows MSB first: exactly MONO_HLSB.
    return image.tobytes()


def render(text: Iterable[str], height: int, source: Path = SOURCE_FONT) -> Rendered:
    font, offset = _renderer(height, source)
    notdef = _bits(font, offset, height, NOTDEF_PROBE)
    out = Rendered(height)
    for ch in sorted(set(text) - {"\n", "\r", "\t"}):
        bits = _bits(font, offset, height, ch)
        if bits == notdef and ch != " ":
            out.missing.append(ch)
            continue
        width = min(max(round(font.getlength(ch)), 1), height)
        out.glyphs[ord(ch)] = (width, bits)
    return out


def encode(rendered: Rendered) -> bytes:
    h = rendered.height
    cps = sorted(rendered.glyphs)
    parts = [HEADER.pack(MAGIC, VERSION, h, 0, len(cps), record_size(h), 0)]
    parts += [cp.to_bytes(3, "big") for cp in cps]
    for cp in cps:
        width, bits = rendered.glyphs[cp]
        parts.append(cp.to_bytes(3, "big") + bytes([width]) + bits)
    return b"".join(parts)


def display_settings(hall: HallText, kind: str, keys: int, counter: str) -> dict[str, Any]:
    """A pad's display.json: its kind and keys, its counter's name, the hall's captions."""
    return {"kind": kind, "keys": keys, "counter": hall.counters.get(counter, counter),
            "captions": hall.captions}


@dataclass
class HallFont:
    small: Rendered
    large: Rendered

    def missing(self) -> list[str]:
        return sorted(set(self.small.missing) | set(self.large.missing))

    def write(self, folder: Path) -> None:
        """font16.bin and font32.bin into `folder` (made if needed), each replaced whole."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, rendered in ((SMALL_FILE, self.small), (LARGE_FILE, self.large)):
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(encode(rendered))
            tmp.replace(folder / name)


def hall_font(hall: HallText, extra: str = "", source: Path = SOURCE_FONT) -> HallFont:
    """The glyph files of a hall (with `extra` text, e.g. a name being tried out)."""
    small, large = hall.texts()
    return HallFont(render(small + extra, SMALL, source), render(large, LARGE, source))


def write_display(folder: Path, settings: dict[str, Any]) -> Path:
    path = folder / DISPLAY_FILE
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
