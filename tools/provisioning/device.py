"""What provisioning works on: the device as its hall-config table, an MQTT pad's network,
and the refusal or failure the technician reads. The device vocabulary is the agent's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.config import DEVICE_KINDS, DEVICE_LINKS
from edge_agent.service.checks import FRAME_KINDS, P2P_ADDRESS, SERIAL_LINKS

__all__ = ["EXIT_FAILED", "EXIT_REFUSED", "KEYED_KINDS", "KINDS", "LINKS", "P2P_ADDRESS",
           "SERIAL_LINKS", "Device", "Network", "ProvisionError"]

KINDS = DEVICE_KINDS
LINKS = DEVICE_LINKS
KEYED_KINDS = FRAME_KINDS  # the kinds that seal frames with a key and get a config.json
EXIT_FAILED = 1
EXIT_REFUSED = 2


class ProvisionError(Exception):
    """A refusal or failure with a message for the technician."""

    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Device:
    """One ``[devices."ID"]`` table of the hall config."""

    id: str
    counter: str
    kind: str
    link: str
    port: str | None = None
    address: int | None = None
    keys: int | None = None
    key: str | None = None

    def table(self) -> dict[str, Any]:
        """The table as tomllib parses it: optional fields left out when unset."""
        fields: dict[str, Any] = {
            "counter": self.counter,
            "kind": self.kind,
            "link": self.link,
            "port": self.port,
            "address": self.address,
            "keys": self.keys,
            "key": self.key,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Network:
    """What an MQTT pad needs to reach the broker on the hall's Pi."""

    ssid: str
    password: str
    host: str
    port: int
