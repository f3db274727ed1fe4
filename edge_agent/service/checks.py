"""What the live agent needs of a hall file beyond what the rules need: one path of checks for
`check-config` and `run`, so a file that one accepts the other never refuses.

config.py validates what every command reads (replay and report run on a file whose devices
have no ports or keys). These checks add what only the live links need: a serial or evdev
device's port, the key of every device that speaks the wire protocol, one device a USB port,
an RS-485 bus's addresses, evdev kinds. A ConfigError's message names the section and the
key; `load_live_config` puts the file's name in front, as configuration.md promises.
Warnings are what runs but may surprise (a 5-key pad in a binary hall).
"""

from __future__ import annotations

from pathlib import Path

from edge_agent.config import ConfigError, DeviceConfig, HallConfig, load_config
from edge_agent.rules.vocabulary import (
    EVDEV_KINDS,
    FRAME_KINDS,
    FRAME_LINKS,
    SERIAL_LINKS,
    DeviceKind,
    DeviceLink,
    Scale,
)

__all__ = ["EVDEV_KINDS", "FRAME_KINDS", "FRAME_LINKS", "P2P_ADDRESS", "SERIAL_LINKS",
           "check_evdev_device", "check_frame_device", "check_live", "check_port",
           "expected_address", "load_live_config"]
P2P_ADDRESS = 1  # the address a USB or MQTT pad sends when the file sets none


def load_live_config(path: str | Path) -> tuple[HallConfig, list[str]]:
    """The hall file checked for the live agent, and its warnings; ConfigError names the file."""
    config = load_config(path)
    try:
        return config, check_live(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def check_live(config: HallConfig) -> list[str]:
    """ConfigError for what `run` cannot start with; the warnings for what it runs with."""
    by_port: dict[str, list[DeviceConfig]] = {}
    evdev_paths: dict[str, str] = {}
    for d in sorted(config.devices.values(), key=lambda d: d.id):
        if d.link in FRAME_LINKS:
            check_frame_device(d)
        else:
            check_evdev_device(d, evdev_paths)
        if d.link in SERIAL_LINKS and d.port is not None:
            by_port.setdefault(d.port, []).append(d)
    for port, devices in sorted(by_port.items()):
        check_port(port, devices)
    return _warnings(config)


def expected_address(device: DeviceConfig) -> int:
    """The address byte the device's frames carry (docs/protocol.md, Pad configuration)."""
    return device.address if device.address is not None else P2P_ADDRESS


def check_frame_device(d: DeviceConfig) -> None:
    where = f"[devices.{d.id}]"
    if d.kind not in FRAME_KINDS:
        raise ConfigError(f"{where} link: a {d.kind} is a USB keyboard device: use link "
                          f"evdev (links usb, rs485, mqtt carry {' and '.join(FRAME_KINDS)}s)")
    if d.link in SERIAL_LINKS and not d.port:
        raise ConfigError(f"{where} port: missing; a {d.link} device needs its serial port "
                          "(/dev/serial/by-id/...)")
    if d.key is None:
        raise ConfigError(f"{where} key: missing; a {d.kind} on link {d.link} seals its "
                          "frames with its key (64 hex digits, written by tools/provision)")
    if d.link == DeviceLink.MQTT and d.port:
        raise ConfigError(f"{where} port: an mqtt device has no port (its topics are "
                          "hall/<hall>/<counter>/<device>/...)")
    if d.address is not None and not 1 <= d.address <= 247:
        raise ConfigError(f"{where} address: must be 1..247, got {d.address}")


def check_evdev_device(d: DeviceConfig, paths: dict[str, str]) -> str:
    """The device's input path; `paths` (path -> device) catches two devices on one path."""
    where = f"[devices.{d.id}]"
    if d.kind not in EVDEV_KINDS:
        raise ConfigError(f"{where} link: a {d.kind} cannot use link evdev "
                          f"(evdev is for kinds {', '.join(EVDEV_KINDS)})")
    if not d.port:
        raise ConfigError(f"{where} port: missing; link evdev needs the device's input path, "
                          "like /dev/input/by-id/usb-...-event-kbd")
    if d.port in paths:
        raise ConfigError(f"{where} port: {d.port} is already device {paths[d.port]}'s")
    paths[d.port] = d.id
    return d.port


def check_port(port: str, devices: list[DeviceConfig]) -> bool:
    """Whether the devices on one serial port make an RS-485 bus (else one USB device);
    ConfigError if they cannot share the port."""
    ids = ", ".join(d.id for d in devices)
    links = {d.link for d in devices}
    if not devices:
        raise ConfigError(f"serial port {port}: no devices")
    if len(links) > 1 or not links <= set(SERIAL_LINKS):
        raise ConfigError(f"[devices.{devices[-1].id}] port: {port} has devices {ids}, which "
                          f"must all be usb or all rs485, got {', '.join(sorted(links))}")
    if links == {DeviceLink.USB}:
        if len(devices) > 1:
            raise ConfigError(f"[devices.{devices[-1].id}] port: {port} is a usb port and "
                              f"carries one device, got {ids}")
        return False
    _check_bus(port, devices)
    return True


def _check_bus(port: str, devices: list[DeviceConfig]) -> None:
    seen: dict[int, str] = {}
    for d in devices:
        if d.key is None:
            raise ConfigError(f"[devices.{d.id}] key: an rs485 device needs its key "
                              "(the agent's polls are sealed with it)")
        if d.address is None or not 1 <= d.address <= 247:
            raise ConfigError(f"[devices.{d.id}] address: an rs485 device needs 1..247")
        if d.address in seen:
            raise ConfigError(f"[devices.{d.id}] address: {d.address} is already "
                              f"{seen[d.address]}'s on {port}")
        seen[d.address] = d.id


def _warnings(config: HallConfig) -> list[str]:
    out = []
    if config.scale == Scale.BINARY:
        for d in sorted(config.devices.values(), key=lambda d: d.id):
            if d.kind == DeviceKind.PAD and d.keys == 5:
                out.append(
                    f"[devices.{d.id}] keys: a 5-key pad in a binary hall ([scale] kind): "
                    "非常满意, 满意 and 基本满意 count as 满意, 不满意 and 非常不满意 as 不满意")
    return out
