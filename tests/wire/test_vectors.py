"""The agent codec against the shared vectors (the firmware is checked against the same file)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import pytest

from edge_agent.wire import FrameRejection, Message, cobs, frame
from tests.wire import gen_vectors
from tests.wire.vectors import decoder, keys, load

VECTORS = load()


def test_file_matches_its_generator() -> None:
    assert gen_vectors.PATH.read_text(encoding="utf-8") == gen_vectors.render()


@pytest.mark.parametrize("case", VECTORS["primitives"]["crc16"])
def test_crc16(case: dict[str, Any]) -> None:
    assert frame.crc16(bytes.fromhex(case["data"])) == case["crc"]


def test_crc16_check_value() -> None:
    assert frame.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("case", VECTORS["primitives"]["cobs"])
def test_cobs(case: dict[str, Any]) -> None:
    data, encoded = bytes.fromhex(case["data"]), bytes.fromhex(case["encoded"])
    assert cobs.encode(data) == encoded
    assert cobs.decode(encoded) == data
    assert 0 not in encoded


def _plain(body: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    assert dataclasses.is_dataclass(body) and not isinstance(body, type)
    for field in dataclasses.fields(body):
        value = getattr(body, field.name)
        if isinstance(value, enum.Enum):
            value = value.name.lower()
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


@pytest.mark.parametrize("case", VECTORS["frames"], ids=lambda c: c["name"])
def test_frame_decodes(case: dict[str, Any]) -> None:
    dec = decoder(upstream=case["direction"] == "up")
    [got] = dec.feed(bytes.fromhex(case["wire"]))
    assert isinstance(got, Message)
    assert (got.address, got.kind, got.boot, got.seq) == (
        case["address"], case["type"], case["boot"], case["seq"])
    assert got.device == keys()[case["address"]].device
    expected = dict(case["decoded"])
    assert got.kind.name.lower() == expected.pop("type")
    assert _plain(got.body) == expected
    assert not got.duplicate


@pytest.mark.parametrize("case", VECTORS["frames"], ids=lambda c: c["name"])
def test_frame_encodes(case: dict[str, Any]) -> None:
    key = keys()[case["address"]].key
    raw = frame.seal(key, case["address"], case["type"], case["boot"], case["seq"],
                     bytes.fromhex(case["payload"]))
    assert raw.hex() == case["raw"]
    assert frame.wire(raw).hex() == case["wire"]


@pytest.mark.parametrize("case", VECTORS["rejections"], ids=lambda c: c["name"])
def test_rejection(case: dict[str, Any]) -> None:
    dec = decoder()
    [got] = dec.feed(bytes.fromhex(case["wire"]))
    assert isinstance(got, FrameRejection)
    assert got.reason == case["reason"]
    assert dec.rejections == {case["reason"]: 1}
    assert dec.accepted == 0


@pytest.mark.parametrize("case", VECTORS["sequences"], ids=lambda c: c["name"])
def test_sequence(case: dict[str, Any]) -> None:
    dec = decoder()
    verdicts = []
    for hex_wire in case["wire"]:
        [got] = dec.feed(bytes.fromhex(hex_wire))
        if isinstance(got, FrameRejection):
            verdicts.append(got.reason.value)
        else:
            verdicts.append("duplicate" if got.duplicate else "accepted")
    assert verdicts == case["verdicts"]
