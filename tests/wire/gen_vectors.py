"""Writes firmware/protocol_vectors.json, the test vectors both codecs are checked against.

Frames are built here with the standard library alone (struct, hmac, binascii), not with
either codec, so a codec that drifts from the spec fails its vector test.
Run: .venv/bin/python -m tests.wire.gen_vectors
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import struct
from pathlib import Path
from typing import Any

from edge_agent.wire import cobs

PATH = Path(__file__).resolve().parents[2] / "firmware" / "protocol_vectors.json"

KEY_A = bytes(range(32))
KEY_B = bytes(range(0x80, 0xA0))
DEVICES = [
    {"device": "A01-pad", "address": 3, "key": KEY_A.hex()},
    {"device": "A02-pad", "address": 4, "key": KEY_B.hex()},
]


def raw_frame(key: bytes, address: int, kind: int, boot: int, seq: int, payload: bytes) -> bytes:
    body = struct.pack(">BBBHI", 1, address, kind, boot, seq) + payload
    body += hmac.new(key, body, hashlib.sha256).digest()[:8]
    return body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))


def event(flags: int, age: int, body: bytes) -> bytes:
    return struct.pack(">BI", flags, age) + body


def vector(
    name: str, key: bytes, address: int, kind: int, boot: int, seq: int, payload: bytes,
    decoded: dict[str, Any],
) -> dict[str, Any]:
    raw = raw_frame(key, address, kind, boot, seq, payload)
    return {
        "name": name,
        "direction": "up" if kind < 0x80 else "down",
        "address": address,
        "type": kind,
        "boot": boot,
        "seq": seq,
        "payload": payload.hex(),
        "raw": raw.hex(),
        "wire": (cobs.encode(raw) + b"\x00").hex(),
        "decoded": decoded,
    }


def frames() -> list[dict[str, Any]]:
    a, b = KEY_A, KEY_B
    return [
        vector("press satisfied, 2-key pad", a, 3, 0x01, 1, 1, event(0, 120, bytes([0, 1])),
               {"type": "press", "key": 0, "level": "satisfied", "age_ms": 120, "flags": 0}),
        vector("press unsatisfied, 2-key pad, outlived a reboot", a, 3, 0x01, 1, 2,
               event(1, 65000, bytes([1, 3])),
               {"type": "press", "key": 1, "level": "unsatisfied", "age_ms": 65000, "flags": 1}),
        vector("press very_unsatisfied, 5-key pad", b, 4, 0x01, 7, 300, event(0, 0, bytes([4, 4])),
               {"type": "press", "key": 4, "level": "very_unsatisfied", "age_ms": 0, "flags": 0}),
        vector("pause key", a, 3, 0x02, 2, 1, event(0, 5, b""),
               {"type": "pause_key", "age_ms": 5, "flags": 0}),
        vector("heartbeat", a, 3, 0x03, 2, 2, struct.pack(">IBBB", 3600, 0, 1, 0),
               {"type": "heartbeat", "uptime_s": 3600, "outbox": 0, "screen": "welcome",
                "flags": 0}),
        vector("selftest, display failed", a, 3, 0x04, 2, 3,
               event(0, 10, bytes([1, 2, 0x2F, 0x10])),
               {"type": "selftest", "age_ms": 10, "flags": 0, "firmware": 1, "keys": 2,
                "ok": ["config", "key", "flash", "keys_released", "link"], "failed": ["display"]}),
        vector("fault, key 2 stuck", b, 4, 0x05, 9, 17, event(0, 10000, bytes([1, 2, 1])),
               {"type": "fault", "age_ms": 10000, "flags": 0, "code": "key_stuck", "detail": 2,
                "active": True}),
        # COBS must escape the zero bytes of the header: boot 0x0100, seq 0x00000100.
        vector("press with zero bytes in the header", a, 3, 0x01, 256, 256,
               event(0, 0, bytes([0, 1])),
               {"type": "press", "key": 0, "level": "satisfied", "age_ms": 0, "flags": 0}),
        vector("ack", a, 3, 0x81, 5, 1, struct.pack(">HI", 1, 2),
               {"type": "ack", "boot": 1, "seq": 2}),
        vector("display invite with staff name", a, 3, 0x82, 5, 2,
               bytes([2]) + "王小明 (A01)".encode(),
               {"type": "display", "screen": "invite", "text": "王小明 (A01)"}),
        vector("display paused", b, 4, 0x82, 5, 1, bytes([4]), {"type": "display",
               "screen": "paused", "text": ""}),
        vector("poll", b, 4, 0x83, 5, 2, b"", {"type": "poll"}),
    ]


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def wire(raw: bytes) -> str:
    return (cobs.encode(raw) + b"\x00").hex()


def rejections() -> list[dict[str, Any]]:
    a = KEY_A
    good = raw_frame(a, 3, 0x01, 1, 1, event(0, 120, bytes([0, 1])))
    # A frame whose CRC is right but whose tag was made with another key.
    forged = raw_frame(KEY_B, 3, 0x01, 1, 1, event(0, 120, bytes([0, 1])))
    bad_tag = flip(good[:-2], 20)
    bad_tag += struct.pack(">H", binascii.crc_hqx(bad_tag, 0xFFFF))
    return [
        {"name": "bad crc", "wire": wire(flip(good, len(good) - 1)), "reason": "bad_crc"},
        {"name": "payload bit flipped", "wire": wire(flip(good, 10)), "reason": "bad_crc"},
        {"name": "tag of another key", "wire": wire(forged), "reason": "bad_tag"},
        {"name": "tag bit flipped, crc fixed", "wire": wire(bad_tag), "reason": "bad_tag"},
        {"name": "truncated", "wire": wire(good[:12]), "reason": "truncated"},
        {"name": "bad cobs", "wire": "05010203" + "00", "reason": "bad_cobs"},
        {"name": "oversize", "wire": "01" * 200 + "00", "reason": "oversize"},
        {"name": "unknown device", "wire": wire(raw_frame(a, 9, 0x01, 1, 1, event(0, 0, b"\0\1"))),
         "reason": "unknown_device"},
        {"name": "bad version", "wire": wire(_reversion(a)), "reason": "bad_version"},
        {"name": "unknown type", "wire": wire(raw_frame(a, 3, 0x42, 1, 1, b"")),
         "reason": "unknown_type"},
        {"name": "downstream type sent upstream", "wire": wire(raw_frame(a, 3, 0x81, 1, 1,
         struct.pack(">HI", 1, 1))), "reason": "wrong_direction"},
        {"name": "level out of range", "wire": wire(raw_frame(a, 3, 0x01, 1, 1,
         event(0, 0, bytes([0, 9])))), "reason": "bad_payload"},
    ]


def _reversion(key: bytes) -> bytes:
    body = struct.pack(">BBBHI", 2, 3, 0x03, 1, 1) + struct.pack(">IBBB", 1, 0, 0, 0)
    body += hmac.new(key, body, hashlib.sha256).digest()[:8]
    return body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))


def sequences() -> list[dict[str, Any]]:
    """Frames fed in order to one fresh decoder; the verdict on each."""
    a = KEY_A

    def press(boot: int, seq: int) -> str:
        return wire(raw_frame(a, 3, 0x01, boot, seq, event(0, 0, bytes([0, 1]))))

    return [
        {"name": "retransmission after a lost ack, then a replay of an older frame",
         "wire": [press(1, 1), press(1, 2), press(1, 2), press(1, 1)],
         "verdicts": ["accepted", "accepted", "duplicate", "replayed_seq"]},
        {"name": "a new boot restarts seq; the old boot's frames are then replays",
         "wire": [press(1, 5), press(2, 1), press(1, 6)],
         "verdicts": ["accepted", "accepted", "replayed_seq"]},
    ]


def primitives() -> dict[str, Any]:
    rfc4231 = [  # RFC 4231 test cases 1, 2 and 6
        (b"\x0b" * 20, b"Hi There"),
        (b"Jefe", b"what do ya want for nothing?"),
        (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
    ]
    cobs_cases = [b"", b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", b"\x11\x22\x33\x44",
                  bytes(range(1, 255)), bytes(range(1, 256)), bytes(range(256))]
    return {
        "crc16": [{"data": d.hex(), "crc": binascii.crc_hqx(d, 0xFFFF)}
                  for d in (b"123456789", b"", b"\x00" * 4, bytes(range(256)))],
        "hmac_sha256": [{"key": k.hex(), "data": d.hex(),
                         "mac": hmac.new(k, d, hashlib.sha256).hexdigest()} for k, d in rfc4231],
        "cobs": [{"data": d.hex(), "encoded": cobs.encode(d).hex()} for d in cobs_cases],
    }


def build() -> dict[str, Any]:
    return {
        "protocol": 1,
        "about": "Test vectors of docs/protocol.md, made by tests/wire/gen_vectors.py.",
        "devices": DEVICES,
        "primitives": primitives(),
        "frames": frames(),
        "rejections": rejections(),
        "sequences": sequences(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")
