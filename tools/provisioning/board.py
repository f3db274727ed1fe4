"""The board's side: its config.json (written durably, mode 0600: it holds the key), its
glyph files and display.json, and the firmware files copied to it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from edge_agent.durable_files import write_atomic
from edge_agent.padfont import DISPLAY_FILE, LARGE_FILE, SMALL_FILE
from edge_agent.wire.keys import mqtt_password
from tools.provisioning.device import EXIT_FAILED, P2P_ADDRESS, Device, Network, ProvisionError

FIRMWARE_SKIP = {"tests", "test", "__pycache__"}


def board_config(device: Device, hall: str, board: str, net: Network | None) -> dict[str, Any]:
    """The firmware's config.json (pads carry ``keys``; a sign has none)."""
    assert device.key is not None
    config: dict[str, Any] = {
        "device": device.id,
        "counter": device.counter,
        "hall": hall,
        "address": device.address if device.address is not None else P2P_ADDRESS,
    }
    if device.keys is not None:
        config["keys"] = device.keys
    config.update(key=device.key, link=device.link, board=board)
    if net is not None:
        config["wifi"] = {"ssid": net.ssid, "password": net.password}
        config["mqtt"] = {
            "host": net.host,
            "port": net.port,
            "user": device.id,
            "password": mqtt_password(device.key),
        }
    return config


def write_config(out_dir: Path, config: dict[str, Any]) -> Path:
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = out_dir / "config.json"
        data = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
        write_atomic(path, data.encode("utf-8"), 0o600)
    except OSError as exc:
        raise ProvisionError(f"--out {out_dir}: cannot write config.json: {exc}",
                             EXIT_FAILED) from None
    return path


def firmware_sources(firmware_dir: Path) -> list[Path]:
    """Top-level modules and packages of the firmware, without tests and caches."""
    if not firmware_dir.is_dir():
        raise ProvisionError(f"--firmware-dir {firmware_dir}: not a directory")
    sources = [entry for entry in sorted(firmware_dir.iterdir()) if _is_firmware(entry)]
    if not sources:
        raise ProvisionError(f"--firmware-dir {firmware_dir}: no firmware files in it")
    return sources


def _is_firmware(entry: Path) -> bool:
    if entry.name.startswith(".") or entry.name in FIRMWARE_SKIP:
        return False
    if entry.is_dir():
        return any(entry.rglob("*.py"))
    return entry.suffix == ".py"


def write_display_files(hall_config: Path, doc: dict[str, Any], kind: str, keys: int,
                        counter: str, out_dir: Path) -> tuple[list[Path], list[str]]:
    """The glyph files and display.json beside config.json, the glyph files also into the
    hall's pad-font/ (for the agent); returns (files for the board, summary lines)."""
    from tools import glyphfile  # Pillow: needed only for pads and signs

    hall = glyphfile.HallText.of_document(doc)
    font = glyphfile.hall_font(hall)
    settings = glyphfile.display_settings(hall, kind, keys, counter)
    try:
        font.write(out_dir)
        glyphfile.write_display(out_dir, settings)
        font.write(hall_config.resolve().parent / "pad-font")
    except OSError as exc:
        raise ProvisionError(f"--out {out_dir}: cannot write the glyph files: {exc}",
                             EXIT_FAILED) from None
    lines = [f"  display: {out_dir / SMALL_FILE} ({len(font.small.glyphs)} glyphs), "
             f"{out_dir / LARGE_FILE} ({len(font.large.glyphs)}), {out_dir / DISPLAY_FILE}"]
    if font.missing():
        lacking = " ".join(font.missing())
        print(f"warning: the source font lacks {lacking}: the pads show a box for each; "
              "write the name another way in the hall file or add a font", file=sys.stderr)
        lines.append(f"  display: not in the source font (shown as a box): {lacking}")
    return [out_dir / SMALL_FILE, out_dir / LARGE_FILE, out_dir / DISPLAY_FILE], lines
