"""Streaming behaviour of the decoder, the replay guard and the encoder."""

from __future__ import annotations

from edge_agent.wire import (
    Ack,
    Decoder,
    DeviceKey,
    Encoder,
    FrameRejection,
    Kind,
    Message,
    Press,
    Reason,
    ScreenCode,
    ScreenCommand,
    SeqGuard,
    lookup_for,
    seal,
    wire,
)
from tests.wire.vectors import decoder, keys, load

VECTORS = load()
KEY = keys()[3]


def press(boot: int, seq: int, key: int = 0, level: int = 1) -> bytes:
    return wire(seal(KEY.key, 3, Kind.PRESS, boot, seq, bytes([0, 0, 0, 0, 9, key, level])))


def test_stream_split_anywhere_gives_the_same_messages() -> None:
    stream = b"".join(press(1, s) for s in range(1, 6))
    whole = decoder().feed(stream)
    dec = decoder()
    trickled = [r for i in range(len(stream)) for r in dec.feed(stream[i : i + 1])]
    assert whole == trickled
    assert [m.seq for m in whole if isinstance(m, Message)] == [1, 2, 3, 4, 5]


def test_garbage_costs_at_most_the_frame_it_touches() -> None:
    dec = decoder()
    got = dec.feed(b"\x00\x00" + b"\x03\x03\x03\x00" + b"noise" + press(1, 1) + press(1, 2))
    assert [type(r) for r in got] == [FrameRejection, FrameRejection, Message]
    assert sum(dec.rejections.values()) == 2
    assert dec.accepted == 1


def test_oversize_run_is_dropped_with_bounded_memory_and_recovers() -> None:
    dec = decoder()
    for _ in range(1000):
        assert dec.feed(b"\x01" * 1000) == []
    assert len(dec._buf) <= 200
    got = dec.feed(b"\x00" + press(1, 1))
    assert [getattr(r, "reason", None) for r in got] == ["oversize", None]


def test_press_fields() -> None:
    [got] = decoder().feed(press(2, 7, key=1, level=3))
    assert isinstance(got, Message)
    assert got.body == Press(key=1, level="unsatisfied", age_ms=9, flags=0)
    assert (got.device, got.boot, got.seq) == ("A01-pad", 2, 7)


def test_replay_guard_is_per_device() -> None:
    guard = SeqGuard()
    other = keys()[4]
    dec = Decoder(keys().get, guard)
    dec.feed(press(1, 10))
    frame_b = wire(seal(other.key, 4, Kind.PRESS, 1, 3, bytes([0, 0, 0, 0, 0, 0, 1])))
    [got] = dec.feed(frame_b)
    assert isinstance(got, Message) and got.device == "A02-pad"
    assert guard.marks() == {"A01-pad": (1, 10), "A02-pad": (1, 3)}


def test_guard_marks_survive_an_agent_restart() -> None:
    first = decoder()
    first.feed(press(1, 1) + press(1, 2))
    restarted = Decoder(keys().get, SeqGuard({"A01-pad": (1, 2)}))
    [got] = restarted.feed(press(1, 1))
    assert isinstance(got, FrameRejection) and got.reason == "replayed_seq"
    assert restarted.rejections == {"replayed_seq": 1}


def test_forget_lets_a_rekeyed_device_start_again() -> None:
    guard = SeqGuard({"A01-pad": (9, 9)})
    guard.forget("A01-pad")
    [got] = Decoder(keys().get, guard).feed(press(1, 1))
    assert isinstance(got, Message)


def test_encoder_frames_decode_on_the_pad_side_with_rising_seq() -> None:
    enc = Encoder(boot=5)
    pad_side = Decoder(keys().get, SeqGuard(), upstream=False)
    out = pad_side.feed(wire(enc.ack(KEY, 3, 1, 2)) + wire(enc.display(KEY, 3, ScreenCode.INVITE,
                                                                      "李")))
    assert [(m.kind, m.boot, m.seq) for m in out if isinstance(m, Message)] == [
        (Kind.ACK, 5, 1), (Kind.DISPLAY, 5, 2)]
    assert isinstance(out[0], Message) and out[0].body == Ack(1, 2)


def test_encoder_matches_the_ack_vector() -> None:
    [case] = [v for v in VECTORS["frames"] if v["name"] == "ack"]
    enc = Encoder(boot=5)
    assert enc.ack(KEY, 3, 1, 2).hex() == case["raw"]


def test_display_text_is_cut_at_a_character_boundary() -> None:
    enc = Encoder(boot=1)
    raw = enc.display(KEY, 3, ScreenCode.INVITE, "长" * 40)
    got = Decoder(keys().get, None, upstream=False).decode(raw)
    assert isinstance(got, Message)
    assert got.body == ScreenCommand(ScreenCode.INVITE, "长" * 16)  # 48 bytes of 3-byte characters


def test_lookup_from_hall_config_tables() -> None:
    devices = {
        "A01-pad": {"counter": "A01", "kind": "pad", "link": "rs485", "port": "/dev/ttyUSB0",
                    "address": 3, "keys": 2, "key": KEY.key.hex()},
        "A02-pad": {"counter": "A02", "kind": "pad", "link": "rs485", "port": "/dev/ttyUSB1",
                    "address": 3, "keys": 2, "key": "11" * 32},
    }
    lookup = lookup_for(devices, "/dev/ttyUSB0")
    assert lookup(3) == DeviceKey("A01-pad", KEY.key)
    assert lookup(4) is None


def test_a_point_to_point_decoder_refuses_another_address_after_the_tag() -> None:
    """USB and MQTT: the one device's key is found whatever the address byte says; a frame
    sealed with it but naming another address is wrong_address (not a forgery: the tag holds),
    and a forged frame with another address is still bad_tag (checks run in order)."""
    dec = Decoder(lambda address: KEY, SeqGuard(), address=3)
    stray = seal(KEY.key, 9, Kind.PRESS, 1, 1, bytes([0, 0, 0, 0, 9, 0, 1]))
    forged = seal(bytes(32), 9, Kind.PRESS, 1, 1, bytes([0, 0, 0, 0, 9, 0, 1]))
    assert dec.decode(stray) == FrameRejection(Reason.WRONG_ADDRESS, 9, KEY.device)
    assert dec.decode(forged) == FrameRejection(Reason.BAD_TAG, 9, KEY.device)
    accepted = dec.decode(seal(KEY.key, 3, Kind.PRESS, 1, 1, bytes([0, 0, 0, 0, 9, 0, 1])))
    assert isinstance(accepted, Message) and accepted.seq == 1  # the refusal marked nothing
    assert dict(dec.rejections) == {"wrong_address": 1, "bad_tag": 1}
