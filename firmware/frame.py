"""Wire frames of protocol v1 (docs/protocol.md).

Raw frame: version(1) address(1) type(1) boot(2) seq(4) payload(0..64) tag(8) crc(2),
integers big-endian. tag = HMAC-SHA256(key, header + payload)[:8]; crc = CRC-16/CCITT-FALSE
over everything before it. On a serial link each raw frame is COBS-encoded and ends with 0x00;
over MQTT the raw frame is the message payload.
"""

import struct

import cobs
from crc16 import crc16
from hmac_sha256 import HmacSha256, equal

VERSION = 1
HEADER = 9
TAG = 8
CRC = 2
MAX_PAYLOAD = 64
MIN_RAW = HEADER + TAG + CRC
MAX_RAW = MIN_RAW + MAX_PAYLOAD
# COBS adds one byte per 254 and the delimiter one more.
MAX_WIRE = MAX_RAW + 2

_HEAD = ">BBBHI"


def seal(mac: HmacSha256, address: int, kind: int, boot: int, seq: int, payload: bytes) -> bytes:
    body = struct.pack(_HEAD, VERSION, address, kind, boot, seq) + payload
    body += mac.digest(body)[:TAG]
    return body + struct.pack(">H", crc16(body))


def wire(raw: bytes) -> bytes:
    """A raw frame as it goes on a serial line."""
    return cobs.encode(raw) + b"\x00"


def head(raw: bytes) -> tuple[int, int, int, int, int]:
    """(version, address, type, boot, seq) of a raw frame at least MIN_RAW long."""
    return struct.unpack(_HEAD, raw[:HEADER])


def crc_ok(raw: bytes) -> bool:
    return crc16(raw[:-CRC]) == struct.unpack(">H", raw[-CRC:])[0]


def tag_ok(mac: HmacSha256, raw: bytes) -> bool:
    end = len(raw) - CRC - TAG
    return equal(mac.digest(raw[:end])[:TAG], raw[end : end + TAG]) if end >= HEADER else False


def payload(raw: bytes) -> bytes:
    return raw[HEADER : len(raw) - CRC - TAG]


def check(mac: HmacSha256, address: int, raw: bytes) -> tuple[int, int, int, bytes] | None:
    """(type, boot, seq, payload) of a good frame for `address`, else None."""
    if len(raw) < MIN_RAW or len(raw) > MAX_RAW or not crc_ok(raw):
        return None
    version, addr, kind, boot, seq = head(raw)
    if version != VERSION or addr != address or not tag_ok(mac, raw):
        return None
    return kind, boot, seq, payload(raw)


class Reader:
    """Splits a serial byte stream at 0x00 into COBS-decoded raw frames.

    The buffer is bounded: a run of bytes longer than any frame is dropped up to the next 0x00.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for byte in data:
            if byte != 0:
                if len(self._buf) < MAX_WIRE:
                    self._buf.append(byte)
                else:
                    self._overflow = True
                continue
            if self._buf and not self._overflow:
                raw = cobs.decode(bytes(self._buf))
                if raw is None:
                    self.dropped += 1
                else:
                    frames.append(raw)
            elif self._overflow:
                self.dropped += 1
            self._buf = bytearray()
            self._overflow = False
        return frames
