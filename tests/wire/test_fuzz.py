"""The decoder never raises, whatever the bytes, and never accepts a damaged frame.

The seeded loop gives volume (WE_FUZZ_N inputs, 100k by default; set WE_FUZZ_N=10000000 for
a long run); hypothesis gives structure (bit flips, truncations, splits of valid frames).
"""

from __future__ import annotations

import binascii
import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.wire import Decoder, FrameRejection, Kind, Message, SeqGuard, seal, wire
from edge_agent.wire import cobs as agent_cobs
from tests.wire.vectors import keys, load

FUZZ_N = int(os.environ.get("WE_FUZZ_N", "100000"))
GOOD = [bytes.fromhex(v["raw"]) for v in load()["frames"] if v["direction"] == "up"]


def fresh() -> Decoder:
    return Decoder(keys().get, SeqGuard())


def mutate(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.5 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif choice < 0.7 and data:
            del data[rng.randrange(len(data)) :]
        elif choice < 0.85:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif data:
            del data[rng.randrange(len(data))]
    return bytes(data)


def test_seeded_fuzz_never_raises_and_counts_every_frame() -> None:
    rng = random.Random(20260302)
    stream_dec = fresh()
    raw_dec = fresh()
    results = 0
    for n in range(FUZZ_N):
        kind = n % 4
        if kind == 0:
            data = rng.randbytes(rng.randrange(0, 120))
        elif kind == 1:
            raw = mutate(rng, rng.choice(GOOD))
            data = wire(raw) if rng.random() < 0.5 else agent_cobs.encode(raw) + b"\x00"
            got = raw_dec.decode(raw)
            if raw not in GOOD:
                assert isinstance(got, FrameRejection), raw.hex()
        elif kind == 2:
            data = bytes(rng.choice((0, 1, 2, 0xFF)) for _ in range(rng.randrange(1, 40)))
        else:
            data = mutate(rng, wire(rng.choice(GOOD)))
        out = stream_dec.feed(data)
        assert all(isinstance(r, Message | FrameRejection) for r in out)
        results += len(out)
        raw_dec.decode(data)
    counted = sum(stream_dec.rejections.values()) + stream_dec.accepted + stream_dec.duplicates
    assert counted == results
    assert len(stream_dec._buf) <= 100


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    dec = fresh()
    out = [*dec.feed(data), dec.decode(data)]
    assert sum(dec.rejections.values()) + dec.accepted + dec.duplicates == len(out)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(GOOD), st.data())
def test_any_single_bit_flip_is_rejected(raw: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(raw) * 8 - 1))
    damaged = bytearray(raw)
    damaged[position // 8] ^= 1 << (position % 8)
    got = fresh().decode(bytes(damaged))
    assert isinstance(got, FrameRejection)
    assert got.reason == "bad_crc"  # CRC-16 catches every single-bit error


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(GOOD), st.data())
def test_changed_payload_with_a_fixed_crc_is_a_bad_tag(raw: bytes, data: st.DataObject) -> None:
    body = bytearray(raw[:-10])
    at = data.draw(st.integers(9, len(body) - 1)) if len(body) > 9 else None
    if at is None:
        body += b"\x01"  # a payload appended to an empty one
    else:
        body[at] ^= data.draw(st.integers(1, 255))
    forged = bytes(body) + raw[-10:-2]
    forged += binascii.crc_hqx(forged, 0xFFFF).to_bytes(2, "big")
    dec = fresh()
    got = dec.decode(forged)
    assert isinstance(got, FrameRejection) and got.reason == "bad_tag"
    assert dec.rejections == {"bad_tag": 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(GOOD), min_size=1, max_size=6), st.lists(st.integers(1, 30)))
def test_chunking_does_not_change_results(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(wire(f) for f in frames)
    whole = fresh().feed(stream)
    dec = fresh()
    pieces, i = [], 0
    for cut in cuts:
        pieces.append(stream[i : i + cut])
        i += cut
    pieces.append(stream[i:])
    assert [r for p in pieces for r in dec.feed(p)] == whole


def test_replays_are_rejected_and_counted() -> None:
    key = keys()[3].key
    dec = fresh()
    frames = [wire(seal(key, 3, Kind.HEARTBEAT, 1, s, bytes(7))) for s in (1, 2, 3)]
    dec.feed(b"".join(frames))
    dec.feed(frames[0] + frames[1])
    assert dec.accepted == 3
    assert dec.rejections == {"replayed_seq": 2}
