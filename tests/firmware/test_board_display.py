"""The board's display selection (firmware/boards/base.py): the pad config's "display" picks
the SSD1306 on I2C (default) or the SSD1309 on SPI, with each board's pins, and the pad's
screens are drawn on whichever it built. Runs the board code on CPython in a child process
with stand-ins for `machine` and micropython-lib's `ssd1306` (GPIO cannot run here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edge_agent.config import DisplayConfig
from tests.firmware.upy_env import FIRMWARE
from tools import glyphfile

ROOT = Path(__file__).resolve().parents[2]

# The child: fake machine and ssd1306 modules that record what the board asked for, then one
# board built from argv's config; prints what was built, as JSON.
CHILD = r"""
import json, sys, types
from edge_agent import pixels

made = []

class Pin:
    IN = 0; OUT = 1; PULL_UP = 2
    def __init__(self, n, *a, **k): self.n = n
    def value(self, *a): return 1

class I2C:
    def __init__(self, bus, sda, scl): made.append(["i2c", bus, sda.n, scl.n])
    def scan(self): return [0x3C] if "--i2c-present" in sys.argv else []

class SPI:
    def __init__(self, bus, baudrate, sck, mosi):
        made.append(["spi", bus, baudrate, sck.n, mosi.n])

class Panel(pixels.FrameBuffer):
    def __init__(self, kind, args):
        made.append([kind] + args)
        self.buf = bytearray(128 * 64 // 8)
        super().__init__(self.buf, 128, 64, pixels.MONO_VLSB)
        self.shown = 0
    def show(self): self.shown += 1

machine = types.ModuleType("machine")
machine.Pin, machine.I2C, machine.SPI = Pin, I2C, SPI
machine.UART = machine.WDT = object
ssd1306 = types.ModuleType("ssd1306")
ssd1306.SSD1306_I2C = lambda w, h, i2c, addr: Panel("ssd1306_i2c", [w, h, addr])
ssd1306.SSD1306_SPI = lambda w, h, spi, dc, res, cs: Panel("ssd1306_spi", [w, h, dc.n, res.n,
                                                                         cs.n])
sys.modules["machine"] = machine
sys.modules["ssd1306"] = ssd1306
sys.modules["framebuf"] = pixels

board_name, cfg = sys.argv[1], json.loads(sys.argv[2])
Board = __import__("boards." + board_name, fromlist=["Board"]).Board
board = Board(cfg)
fault = board.show(4, "", False)  # paused: 暂停服务, large
panel = board._oled
print(json.dumps({"made": made, "display_ok": board.display_ok(), "fault": fault,
                  "lit": sum(bin(b).count("1") for b in panel.buf) if panel else 0,
                  "shown": panel.shown if panel else 0}))
"""


def build(tmp_path: Path, board: str, cfg: dict[str, object], *flags: str) -> dict[str, object]:
    captions = DisplayConfig().captions()
    glyphfile.HallFont(
        glyphfile.render(glyphfile.BASE_TEXT + "".join(captions.values()), glyphfile.SMALL),
        glyphfile.render("".join(captions[n] for n in glyphfile.LARGE_CAPTIONS),
                         glyphfile.LARGE),
    ).write(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FIRMWARE), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", CHILD, board, json.dumps(cfg), *flags],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_the_default_is_the_ssd1306_on_i2c_found_by_its_address(tmp_path: Path) -> None:
    got = build(tmp_path, "pico", {"keys": 2}, "--i2c-present")
    assert got["made"] == [["i2c", 0, 4, 5], ["ssd1306_i2c", 128, 64, 0x3C]]
    assert got["display_ok"] is True
    assert got["fault"] == 0 and got["shown"] == 1 and int(str(got["lit"])) > 200


def test_no_module_at_the_i2c_address_is_no_display(tmp_path: Path) -> None:
    got = build(tmp_path, "pico", {"keys": 2})
    assert got["made"] == [["i2c", 0, 4, 5]]
    assert got["display_ok"] is None and got["shown"] == 0


def test_ssd1309_on_spi_with_the_picos_pins_draws_the_same_screens(tmp_path: Path) -> None:
    got = build(tmp_path, "pico", {"keys": 2, "display": "ssd1309_spi"})
    assert got["made"] == [["spi", 0, 10_000_000, 18, 19], ["ssd1306_spi", 128, 64, 20, 21, 17]]
    i2c = build(tmp_path, "pico", {"keys": 2}, "--i2c-present")
    assert got["lit"] == i2c["lit"]  # the same 128x64 picture on either panel
    assert got["display_ok"] is True and got["shown"] == 1


def test_ssd1309_on_spi_with_the_esp32s_pins(tmp_path: Path) -> None:
    got = build(tmp_path, "esp32", {"keys": 2, "display": "ssd1309_spi"})
    assert got["made"] == [["spi", 2, 10_000_000, 18, 23], ["ssd1306_spi", 128, 64, 13, 15, 5]]
