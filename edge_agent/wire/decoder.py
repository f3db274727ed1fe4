"""Decoding frames from pads: a streaming decoder for serial lines and a single-frame one for
MQTT. Never raises on input bytes: every frame is either a Message or a counted FrameRejection."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

from edge_agent.wire import cobs
from edge_agent.wire.frame import HEAD, crc_ok, payload, tag_ok
from edge_agent.wire.guard import SeqGuard, Verdict
from edge_agent.wire.keys import KeyLookup
from edge_agent.wire.payload import parse
from edge_agent.wire.protocol import MAX_RAW, MIN_RAW, VERSION, Kind, Message

# Longest COBS run a frame can take before its 0x00: one code byte per 254 data bytes.
MAX_ENCODED = MAX_RAW + 1


class Reason(enum.StrEnum):
    BAD_COBS = "bad_cobs"
    OVERSIZE = "oversize"
    TRUNCATED = "truncated"
    BAD_CRC = "bad_crc"
    BAD_VERSION = "bad_version"
    UNKNOWN_TYPE = "unknown_type"
    WRONG_DIRECTION = "wrong_direction"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_TAG = "bad_tag"
    WRONG_ADDRESS = "wrong_address"
    BAD_PAYLOAD = "bad_payload"
    REPLAYED_SEQ = "replayed_seq"


@dataclass(frozen=True)
class FrameRejection:
    reason: Reason
    address: int | None = None
    device: str | None = None


Result = Message | FrameRejection


class Decoder:
    """Decodes the frames of one link. `upstream` False decodes agent-to-pad frames instead
    (for simulators and tests). Without a guard there is no replay check. `address`: on a
    point-to-point link (USB, MQTT) the lookup finds the one device whatever the address
    byte, and a frame sealed with its key but carrying another address is refused
    (`wrong_address`: a pad configured for another place, never acked to that address)."""

    def __init__(self, keys: KeyLookup, guard: SeqGuard | None, upstream: bool = True,
                 address: int | None = None) -> None:
        self._keys = keys
        self._address = address
        self._guard = guard
        self._upstream = upstream
        self._buf = bytearray()
        self._overflow = False
        self.rejections: Counter[str] = Counter()
        self.accepted = 0
        self.duplicates = 0

    def feed(self, data: bytes) -> list[Result]:
        """Bytes from a serial line, in any chunks; the results of the frames they finish."""
        results: list[Result] = []
        start = 0
        while True:
            end = data.find(b"\x00", start)
            chunk = data[start:] if end < 0 else data[start:end]
            if not self._overflow:
                if len(self._buf) + len(chunk) > MAX_ENCODED:
                    self._overflow = True
                    self._buf.clear()
                else:
                    self._buf += chunk
            if end < 0:
                return results
            if self._overflow:
                results.append(self._reject(FrameRejection(Reason.OVERSIZE)))
            elif self._buf:
                raw = cobs.decode(bytes(self._buf))
                if raw is None:
                    results.append(self._reject(FrameRejection(Reason.BAD_COBS)))
                else:
                    results.append(self.decode(raw))
            self._buf.clear()
            self._overflow = False
            start = end + 1

    def decode(self, raw: bytes) -> Result:
        """One raw frame (an MQTT payload, or a COBS-decoded serial frame)."""
        if len(raw) < MIN_RAW:
            return self._reject(FrameRejection(Reason.TRUNCATED))
        if len(raw) > MAX_RAW:
            return self._reject(FrameRejection(Reason.OVERSIZE))
        if not crc_ok(raw):
            return self._reject(FrameRejection(Reason.BAD_CRC))
        version, address, kind_byte, boot, seq = HEAD.unpack_from(raw)
        if version != VERSION:
            return self._reject(FrameRejection(Reason.BAD_VERSION, address))
        try:
            kind = Kind(kind_byte)
        except ValueError:
            return self._reject(FrameRejection(Reason.UNKNOWN_TYPE, address))
        if kind.upstream != self._upstream:
            return self._reject(FrameRejection(Reason.WRONG_DIRECTION, address))
        found = self._keys(address)
        if found is None:
            return self._reject(FrameRejection(Reason.UNKNOWN_DEVICE, address))
        if not tag_ok(found.key, raw):
            return self._reject(FrameRejection(Reason.BAD_TAG, address, found.device))
        if self._address is not None and address != self._address:
            return self._reject(FrameRejection(Reason.WRONG_ADDRESS, address, found.device))
        body = parse(kind, payload(raw))
        if body is None:
            return self._reject(FrameRejection(Reason.BAD_PAYLOAD, address, found.device))
        duplicate = False
        if self._guard is not None:
            verdict = self._guard.check(found.device, boot, seq)
            if verdict is Verdict.REPLAYED:
                return self._reject(FrameRejection(Reason.REPLAYED_SEQ, address, found.device))
            duplicate = verdict is Verdict.DUPLICATE
        if duplicate:
            self.duplicates += 1
        else:
            self.accepted += 1
        return Message(found.device, address, kind, boot, seq, body, duplicate)

    def _reject(self, rejection: FrameRejection) -> FrameRejection:
        self.rejections[rejection.reason.value] += 1
        return rejection
