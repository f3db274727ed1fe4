"""The hall's devices as the core sees them: which link reaches each one, the keys that check
its frames, and whether it is alive."""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config import DeviceConfig, HallConfig
from edge_agent.rules.vocabulary import DeviceLink
from edge_agent.service.checks import FRAME_LINKS, SERIAL_LINKS, expected_address
from edge_agent.wire import Decoder, DeviceKey, KeyLookup, SeqGuard


def link_name(device: DeviceConfig) -> str | None:
    """The name of the link that carries frames to the device (None: nothing to send)."""
    if device.link in SERIAL_LINKS:
        return f"serial:{device.port}"
    if device.link == DeviceLink.MQTT:
        return "mqtt"
    return None


@dataclass(slots=True)
class Health:
    online: bool | None = None  # None: not heard since the agent started, journal says up
    last_seen: int | None = None
    fault: bool = False
    selftest_failed: bool = False
    link_lost: str | None = None  # its link said it is gone (not yet an outage: core.py)


class DeviceTable:
    """Keys, decoders and liveness of every configured device."""

    def __init__(self, config: HallConfig, guard: SeqGuard) -> None:
        self.config = config
        self.by_id = dict(config.devices)
        self.health = {d: Health() for d in self.by_id}
        self._guard = guard
        self._serial: dict[str, Decoder] = {}
        self._mqtt: dict[str, Decoder] = {}
        ports: dict[str, dict[int, DeviceKey]] = {}
        for d in self.by_id.values():
            if d.key is None:
                continue
            dk = DeviceKey(d.id, d.key)
            if d.link == DeviceLink.RS485 and d.port and d.address is not None:
                ports.setdefault(d.port, {})[d.address] = dk
            elif d.link == DeviceLink.USB and d.port:
                # One device a port: the frame's address byte needs no lookup.
                self._serial[d.port] = Decoder(_anywhere(dk), guard,
                                               address=expected_address(d))
            elif d.link == DeviceLink.MQTT:
                self._mqtt[d.id] = Decoder(_anywhere(dk), guard, address=expected_address(d))
        for port, table in ports.items():
            self._serial[port] = Decoder(table.get, guard)

    def serial_decoder(self, port: str) -> Decoder | None:
        return self._serial.get(port)

    def mqtt_decoder(self, device: str) -> Decoder | None:
        return self._mqtt.get(device)

    def decoders(self) -> dict[str, Decoder]:
        out = {f"serial:{p}": d for p, d in self._serial.items()}
        out.update({f"mqtt:{d}": dec for d, dec in self._mqtt.items()})
        return out

    def key(self, device: str) -> DeviceKey | None:
        d = self.by_id.get(device)
        return DeviceKey(d.id, d.key) if d is not None and d.key is not None else None

    def at_counter(self, counter: str, *kinds: str) -> list[DeviceConfig]:
        return [d for d in self.by_id.values() if d.counter == counter and d.kind in kinds]

    def silent(self, now: int, timeout_us: int) -> list[str]:
        """Devices that send heartbeats, believed up, and not heard for `timeout_us`."""
        return [d for d, h in self.health.items()
                if self.by_id[d].link in FRAME_LINKS and h.online is not False
                and h.last_seen is not None and now - h.last_seen > timeout_us]


def _anywhere(dk: DeviceKey) -> KeyLookup:
    def lookup(address: int) -> DeviceKey:
        return dk
    return lookup
