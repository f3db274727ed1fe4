"""The agent's view of the pads' screens: the staff number sent with the name, a warning when
the pads' glyph files lack a character of it, and each pad's and sign's screen drawn by the
firmware's own code on the status page (checked in headless Chromium, screenshot kept)."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
from pathlib import Path

import pytest

from edge_agent.config import HallConfig, parse_config
from edge_agent.pad_render import SCREENS, PadRenderer
from edge_agent.service.clock import ManualClock
from edge_agent.service.pad_view import PadView, pad_text
from edge_agent.service.status_http import StatusServer
from tests.service import core_kit
from tests.service.test_core import open_counter
from tests.service.test_status_page import ARTIFACTS, chromium, rendered, url
from tools import glyphfile

HALL = core_kit.HALL.replace('"Zhang"', '"张伟"').replace('"Li"', '"王喆"')


def hall(tmp_path: Path, provisioned_with: str = HALL) -> HallConfig:
    """The hall, its pads' font provisioned from `provisioned_with` into tmp_path/pad-font."""
    provisioned = parse_config(provisioned_with)
    glyphfile.hall_font(glyphfile.HallText.of(provisioned)).write(tmp_path / "pad-font")
    return dataclasses.replace(parse_config(HALL), base_dir=tmp_path)


def test_the_text_names_the_staff_member_and_number_only_where_shown() -> None:
    config = parse_config(HALL)
    assert pad_text(config, "invite", "S01") == "张伟\nS01"
    assert pad_text(config, "serving", "S02") == "王喆\nS02"
    assert pad_text(config, "paused", "S01") == ""
    assert pad_text(config, "invite", "S99") == "S99"  # not in the hall file: the number


def test_a_name_the_pads_cannot_draw_is_warned_once_until_reprovisioned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before_staff_change = HALL.replace('"王喆"', '"李四"')
    view = PadView(hall(tmp_path, before_staff_change))
    caplog.set_level(logging.WARNING, "edge_agent.pad_view")
    view.sent("张伟\nS01")
    assert view.missing == {} and not caplog.records
    view.sent("王喆\nS02")
    view.sent("王喆\nS02")
    assert view.missing == {"王喆\nS02": "喆王"}
    assert len(caplog.records) == 1 and "喆王" in caplog.records[0].getMessage()
    assert view.status()["missing"] == [{"text": "王喆 S02", "chars": "喆王"}]
    # Re-provisioned after the staff change: the new file is read at the next command.
    glyphfile.hall_font(glyphfile.HallText.of(parse_config(HALL))).write(tmp_path / "pad-font")
    stamp = (tmp_path / "pad-font" / "font16.bin").stat().st_mtime + 1
    os.utime(tmp_path / "pad-font" / "font16.bin", (stamp, stamp))
    view.sent("王喆\nS02")
    assert view.missing == {}


def test_without_a_glyph_file_the_status_says_so(tmp_path: Path) -> None:
    view = PadView(dataclasses.replace(parse_config(HALL), base_dir=tmp_path))
    view.sent("张伟\nS01")
    assert view.status() == {"font": None, "missing": []}


def _screen(pixels: str) -> bytes:
    raw = base64.b64decode(pixels)
    assert len(raw) == 1024
    return raw


def _snapshot_of_an_invited_counter(tmp_path: Path) -> dict[str, object]:
    config = hall(tmp_path, HALL.replace('"王喆"', '"李四"'))
    clock = ManualClock(core_kit.MONDAY_9)
    core = core_kit.make_core(tmp_path / "j.sqlite", clock, config)
    open_counter(core, clock)  # S01 张伟 invites a rating
    core.pad_view.sent("王喆\nS02")  # as when S02 logs in at another counter
    # Asks for the screens, drawn off the core loop: whether they are there yet is a race
    # with the drawing thread, so only the snapshot after drawn() is looked at.
    core.publish_status()
    core.pad_view.drawn()
    core.publish_status()
    return core.status


def test_the_status_snapshot_carries_each_devices_screen(tmp_path: Path) -> None:
    snap = _snapshot_of_an_invited_counter(tmp_path)
    counter = snap["counters"][0]  # type: ignore[index]
    devices = {d["id"]: d for d in counter["devices"]}
    renderer = PadRenderer(tmp_path / "pad-font", {})
    common = {"counter": "Counter one", "captions": parse_config(HALL).display.captions()}
    want_pad = renderer.render(SCREENS.index("invite"), "张伟\nS01",
                               {"kind": "pad", "keys": 2, **common})
    want_sign = renderer.render(SCREENS.index("invite"), "张伟\nS01",
                                {"kind": "sign", "keys": 2, **common})
    assert _screen(devices["A01-pad"]["pixels"]) == want_pad
    assert _screen(devices["A01-sign"]["pixels"]) == want_sign
    assert want_pad != want_sign  # the sign says 正在服务 in large characters
    assert devices["A01-keypad"]["pixels"] is None
    assert snap["pad_font"]["missing"] == [{"text": "王喆 S02", "chars": "喆王"}]  # type: ignore[index]


def test_the_status_page_shows_the_pads_screens_and_the_missing_characters(
    tmp_path: Path,
) -> None:
    snap = _snapshot_of_an_invited_counter(tmp_path)
    server = StatusServer("127.0.0.1:0", lambda: snap)
    server.start()
    try:
        dom = rendered(server, tmp_path / "profile")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "status_pad_screens.png"
        shot.unlink(missing_ok=True)
        chromium(url(server), tmp_path / "profile2", "--virtual-time-budget=3000",
                 f"--screenshot={shot}", "--window-size=1280,700", "--hide-scrollbars")
    finally:
        server.stop()
    assert 'aria-label="A01-pad 屏幕 screen"' in dom
    assert 'aria-label="A01-sign 屏幕 screen"' in dom
    assert "缺字 lacks 喆王" in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
