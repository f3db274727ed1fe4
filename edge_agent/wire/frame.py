"""Raw frames of protocol v1: header, payload, truncated HMAC-SHA256 tag, CRC-16."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct

from edge_agent.wire import cobs
from edge_agent.wire.protocol import CRC, HEADER, MAX_PAYLOAD, TAG, VERSION

HEAD = struct.Struct(">BBBHI")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: binascii's crc_hqx with init 0xFFFF is exactly that."""
    return binascii.crc_hqx(data, 0xFFFF)


def tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:TAG]


def seal(key: bytes, address: int, kind: int, boot: int, seq: int, payload: bytes) -> bytes:
    """A raw frame (the MQTT payload; COBS-encode it with `wire` for a serial line)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEAD.pack(VERSION, address, kind, boot, seq) + payload
    body += tag(key, body)
    return body + struct.pack(">H", crc16(body))


def wire(raw: bytes) -> bytes:
    return cobs.encode(raw) + b"\x00"


def crc_ok(raw: bytes) -> bool:
    return crc16(raw[:-CRC]) == int.from_bytes(raw[-CRC:], "big")


def tag_ok(key: bytes, raw: bytes) -> bool:
    end = len(raw) - CRC - TAG
    return hmac.compare_digest(tag(key, raw[:end]), raw[end : end + TAG])


def payload(raw: bytes) -> bytes:
    return raw[HEADER : len(raw) - CRC - TAG]
