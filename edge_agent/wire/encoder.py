"""Agent-to-pad frames: acks, display commands, polls."""

from __future__ import annotations

from edge_agent.wire import frame, payload
from edge_agent.wire.keys import DeviceKey
from edge_agent.wire.protocol import Kind, ScreenCode


class Encoder:
    """`boot` is the agent's own boot counter, persisted and raised at each agent start, so
    its downstream (boot, seq) keep increasing for the pads' freshness check of display
    commands. Sequence numbers count per device from 1 within a boot."""

    def __init__(self, boot: int) -> None:
        if not 0 < boot <= 0xFFFF:
            raise ValueError("agent boot counter must be 1..65535")
        self.boot = boot
        self._seq: dict[str, int] = {}

    def _seal(self, dest: DeviceKey, address: int, kind: Kind, body: bytes) -> bytes:
        seq = self._seq.get(dest.device, 0) + 1
        self._seq[dest.device] = seq
        return frame.seal(dest.key, address, kind, self.boot, seq, body)

    def ack(self, dest: DeviceKey, address: int, boot: int, seq: int) -> bytes:
        return self._seal(dest, address, Kind.ACK, payload.ack(boot, seq))

    def display(self, dest: DeviceKey, address: int, screen: ScreenCode, text: str = "") -> bytes:
        return self._seal(dest, address, Kind.DISPLAY, payload.display(screen, text))

    def poll(self, dest: DeviceKey, address: int) -> bytes:
        return self._seal(dest, address, Kind.POLL, b"")
