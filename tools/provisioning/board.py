"""The board's side: its config.json (written durably, mode 0600: it holds the key) and the
firmware files copied to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_agent.durable_files import write_atomic
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
