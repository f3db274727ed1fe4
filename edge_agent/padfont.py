"""The pads' glyph files (their layout: firmware/glyphs.py): where a hall keeps them and
which characters they hold.

Provisioning (tools/provision) renders them into ``pad-font/`` beside the hall file and
copies them to each pad; the agent reads the 16 px file's index to warn when it sends a
name the pads cannot draw.
"""

from __future__ import annotations

import struct
from pathlib import Path

from edge_agent.config import HallConfig

MAGIC = b"WEGF"
VERSION = 1
HEADER = struct.Struct(">4sBBHIHH")  # magic, version, height, 0, count, record size, 0
FONT_DIR = "pad-font"
SMALL_FILE = "font16.bin"
LARGE_FILE = "font32.bin"
DISPLAY_FILE = "display.json"


def font_dir(config: HallConfig) -> Path:
    return config.path(FONT_DIR)


def codepoints(data: bytes) -> frozenset[int]:
    """The code points a glyph file holds (empty for a file that is not one)."""
    if len(data) < HEADER.size:
        return frozenset()
    magic, version, _, _, count, _, _ = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or len(data) < HEADER.size + 3 * count:
        return frozenset()
    start = HEADER.size
    return frozenset(int.from_bytes(data[start + 3 * i:start + 3 * i + 3], "big")
                     for i in range(count))
