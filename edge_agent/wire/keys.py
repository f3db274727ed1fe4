"""Device keys: finding a device's key from the address in a frame, and what is derived
from a key (the device's MQTT password)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MQTT_LABEL = b"window-eval/mqtt-password/v1"


@dataclass(frozen=True)
class DeviceKey:
    device: str
    key: bytes


# Given the address byte of a frame, the device at that address on this link, or None.
KeyLookup = Callable[[int], DeviceKey | None]


def parse_key(hex_key: str) -> bytes:
    key = bytes.fromhex(hex_key)
    if len(key) != 32:
        raise ValueError("a device key is 32 bytes, 64 hex digits")
    return key


def lookup_for(devices: Mapping[str, Mapping[str, object]], port: str) -> KeyLookup:
    """The lookup for one link, from the hall config's [devices."<id>"] tables: the devices
    whose `port` is `port` (a serial device path, or the MQTT device id for MQTT)."""
    table: dict[int, DeviceKey] = {}
    for device, spec in devices.items():
        if spec.get("port", device) != port:
            continue
        address = spec.get("address")
        hex_key = spec.get("key")
        if isinstance(address, int) and isinstance(hex_key, str):
            table[address] = DeviceKey(device, parse_key(hex_key))
    return table.get


def mqtt_password(key_hex: str) -> str:
    """The device's MQTT password: HMAC-SHA256(device key, label), first 32 hex digits.

    Derived rather than stored, so whoever writes the broker's password file (tools/provision
    for the pad's config.json, `broker-files` for mosquitto) recomputes it from the hall
    config alone."""
    digest = hmac.new(bytes.fromhex(key_hex), MQTT_LABEL, hashlib.sha256).hexdigest()
    return digest[:32]
