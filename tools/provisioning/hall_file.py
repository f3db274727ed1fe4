"""The hall config as provisioning reads it (its text and parsed document), the rules a new
device must meet against the devices already there (the agent's own port rule), and the
edited file loaded with the agent's config loader before it may replace the old one."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from edge_agent.config import ConfigError, DeviceConfig, parse_config
from edge_agent.durable_files import Owner, write_atomic
from edge_agent.rules.vocabulary import DeviceKind, DeviceLink, UnknownWord, Word, parse
from edge_agent.service.checks import SERIAL_LINKS, check_port
from tools.provisioning.device import EXIT_FAILED, Device, ProvisionError

W = TypeVar("W", bound=Word)


def load_hall(path: Path) -> tuple[str, dict[str, Any]]:
    """The hall file's text and its parsed document."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProvisionError(f"--hall-config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"--hall-config {path}: cannot read: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(f"--hall-config {path}: not valid TOML: {exc}") from None
    return text, doc


def hall_id(doc: dict[str, Any], path: Path) -> str:
    hall = doc.get("hall")
    value = hall.get("id") if isinstance(hall, dict) else None
    if not isinstance(value, str) or not value:
        raise ProvisionError(f"--hall-config {path}: has no [hall] id")
    return value


def existing_devices(doc: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    devices = doc.get("devices", {})
    if not isinstance(devices, dict) or not all(isinstance(t, dict) for t in devices.values()):
        raise ProvisionError(f"--hall-config {path}: [devices] must hold one table per device")
    return devices


def check_conflicts(device: Device, devices: dict[str, dict[str, Any]]) -> None:
    """Refuse a serial port, input device or RS-485 address another device already uses."""
    if device.link == "evdev":
        for other_id, other in devices.items():
            if other_id != device.id and other.get("link") == "evdev" \
                    and other.get("port") == device.port:
                raise ProvisionError(f"--input-device: {device.port} is already used by "
                                     f"device {other_id!r}")
        return
    if device.link not in SERIAL_LINKS:
        return
    sharing = [_device_config(other_id, other) for other_id, other in sorted(devices.items())
               if other_id != device.id and other.get("link") in SERIAL_LINKS
               and other.get("port") == device.port]
    if not sharing:
        return
    where = device.port if device.port else "the default port (no port set)"
    try:
        # The agent's rule (what `run` and check-config refuse), the new device last.
        check_port(where, [*sharing, _device_config(device.id, device.table())])
    except ConfigError as exc:
        option = f"--address {device.address}" if device.link == "rs485" \
            and {d.link for d in sharing} == {"rs485"} else "--serial-port"
        raise ProvisionError(f"{option}: {exc}") from None


def _device_config(device_id: str, table: dict[str, Any]) -> DeviceConfig:
    """What the agent's loader would make of a device table (only what the port rule reads)."""
    key = table.get("key")
    try:
        key_bytes = bytes.fromhex(key) if isinstance(key, str) else None
    except ValueError:
        key_bytes = None
    address = table.get("address")
    # A word the loader would refuse is left to check_loads; here it reads as the default.
    kind = _word(DeviceKind, table.get("kind"), DeviceKind.PAD)
    link = _word(DeviceLink, table.get("link"), DeviceLink.USB)
    return DeviceConfig(id=device_id, counter=str(table.get("counter", "")),
                        kind=kind, link=link, port=table.get("port"),
                        address=address if isinstance(address, int) else None, key=key_bytes)


def _word(words: type[W], value: Any, default: W) -> W:
    try:
        return parse(words, str(value)) if value is not None else default
    except UnknownWord:
        return default


def check_loads(path: Path, old_text: str, new_text: str) -> list[str]:
    """Load the edited hall file with the agent's own config loader before it may replace the
    old one: an edit that makes a loading file fail to load is refused (nothing is written,
    the old file stays). A file that did not load before the edit (a key the agent does not
    know, say) is not this edit's doing: it is written, with a warning saying why the agent
    refuses it. The warnings."""
    try:
        parse_config(new_text, str(path))
    except ConfigError as exc:
        try:
            parse_config(old_text, str(path))
        except ConfigError:
            return [f"warning: --hall-config {exc}: the agent refuses this file (as it did "
                    "before this edit); fix it by hand"]
        raise ProvisionError(f"--hall-config {exc}; the edited file would not load in the "
                             "agent: file left unchanged", EXIT_FAILED) from None
    return []


def commit_hall(path: Path, old_text: str, new_text: str) -> None:
    """Replace the hall file with the edited text, unless someone changed it meanwhile; a
    symlinked hall file stays a symlink, the file keeps its mode and owner."""
    target = path.resolve()  # a symlinked hall config stays a symlink
    try:
        if target.read_bytes().decode("utf-8") != old_text:
            raise ProvisionError(f"--hall-config {path}: changed by someone else while "
                                 "provisioning; run the command again", EXIT_FAILED)
        write_atomic(target, new_text.encode("utf-8"), target.stat().st_mode & 0o7777,
                     Owner.of(target), owner_if_permitted=True)
    except OSError as exc:
        raise ProvisionError(f"--hall-config {path}: cannot write: {exc}", EXIT_FAILED) from None
