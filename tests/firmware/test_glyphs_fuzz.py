"""The glyph reader against damaged files: a truncated or corrupt font gives the placeholder
and a fault to report, never an exception (which on the board would end in a boot loop)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import pixels
from edge_agent.pad_render import HEIGHT, WIDTH, _firmware_module
from tools.glyphfile import Rendered, encode

GLYPHS: ModuleType = _firmware_module("glyphs")
SCREENS: ModuleType = _firmware_module("screens")
CPS = [0x20, 0x31, 0x41, 0x5DE5, 0x53F7, 0x5F20, 0x4F1F, 0x6682, 0x505C, 0x670D, 0x52A1]


def font(height: int) -> bytes:
    size = (height + 7) // 8 * height
    rendered = Rendered(height, {cp: (height if cp > 127 else height // 2,
                                      bytes((cp * 7 + i) & 0xFF for i in range(size)))
                                 for cp in CPS})
    return encode(rendered)


GOOD = {16: font(16), 32: font(32)}
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # each example rewrites the same files


@st.composite
def damaged(draw: st.DrawFn) -> tuple[int, bytes]:
    height = draw(st.sampled_from([16, 32]))
    data = bytearray(GOOD[height])
    how = draw(st.sampled_from(["truncate", "flip", "garbage", "both"]))
    if how in ("flip", "both"):
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
    if how in ("truncate", "both"):
        data = data[:draw(st.integers(0, len(data) - 1))]
    if how == "garbage":
        data = bytearray(draw(st.binary(max_size=600)))
    return height, bytes(data)


def _open(tmp_path: Path, height: int, data: bytes) -> object:
    path = tmp_path / "font.bin"
    path.write_bytes(data)
    return GLYPHS.Glyphs(str(path), height, pixels)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(case=damaged(), probes=st.lists(st.integers(0, 0x10FFFF), max_size=5))
def test_a_damaged_font_never_raises_and_a_short_one_is_a_fault(
    tmp_path: Path, case: tuple[int, bytes], probes: list[int]
) -> None:
    height, data = case
    g = _open(tmp_path, height, data)
    for cp in CPS + probes:
        width = g.find(cp)  # type: ignore[attr-defined]
        # A record is used only if it names the code point asked for and has a sane width
        # (the bitmap's bits themselves carry no check).
        assert width == -1 or 0 < width <= height
    if len(data) < len(GOOD[height]):
        assert g.fault != GLYPHS.FONT_OK  # type: ignore[attr-defined]
    g.close()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(case=damaged(), text=st.text(max_size=30))
def test_every_screen_draws_with_a_damaged_font(
    tmp_path: Path, case: tuple[int, bytes], text: str
) -> None:
    height, data = case
    (tmp_path / "s.bin").write_bytes(data if height == 16 else GOOD[16])
    (tmp_path / "l.bin").write_bytes(data if height == 32 else GOOD[32])
    small = GLYPHS.Glyphs(str(tmp_path / "s.bin"), 16, pixels)
    large = GLYPHS.Glyphs(str(tmp_path / "l.bin"), 32, pixels)
    screens = SCREENS.Screens(small, large, {"keys": 5, "counter": "A01"})
    buf = bytearray(WIDTH * HEIGHT // 8)
    fb = pixels.FrameBuffer(buf, WIDTH, HEIGHT, pixels.MONO_VLSB)
    for screen in range(5):
        fault = screens.draw(fb, screen, text)
        assert fault in (0, 1, 2, 3, 4)
    if len(data) < len(GOOD[height]):
        assert screens.fault() != 0


@pytest.mark.parametrize("height", [16, 32])
def test_a_glyph_read_from_a_good_file_is_its_record(tmp_path: Path, height: int) -> None:
    g = _open(tmp_path, height, GOOD[height])
    size = (height + 7) // 8 * height
    for cp in CPS:
        assert g.find(cp) == (height if cp > 127 else height // 2)  # type: ignore[attr-defined]
        assert bytes(g.bitmap) == bytes((cp * 7 + i) & 0xFF for i in range(size))  # type: ignore[attr-defined]
    assert g.fault == GLYPHS.FONT_OK  # type: ignore[attr-defined]
