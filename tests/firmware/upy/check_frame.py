# Frames of the firmware against the shared vectors.
import frame
import messages as m
import runner
from hmac_sha256 import HmacSha256

V = runner.load_vectors()
MACS = {}
for d in V["devices"]:
    MACS[d["address"]] = HmacSha256(bytes.fromhex(d["key"]))


def test_seal_matches_every_vector():
    for case in V["frames"]:
        raw = frame.seal(MACS[case["address"]], case["address"], case["type"], case["boot"],
                         case["seq"], bytes.fromhex(case["payload"]))
        assert raw.hex() == case["raw"], case["name"]
        assert frame.wire(raw).hex() == case["wire"], case["name"]


def test_pad_accepts_downstream_vectors():
    for case in V["frames"]:
        if case["direction"] != "down":
            continue
        got = frame.check(MACS[case["address"]], case["address"], bytes.fromhex(case["raw"]))
        assert got == (case["type"], case["boot"], case["seq"], bytes.fromhex(case["payload"]))


def test_display_vector_text():
    for case in V["frames"]:
        if case["type"] == m.DISPLAY:
            screen, text = m.parse_display(bytes.fromhex(case["payload"]))
            assert m.SCREEN_NAMES[screen] == case["decoded"]["screen"]
            assert text == case["decoded"]["text"]


def test_pad_rejects_frames_for_another_address():
    case = V["frames"][[c["name"] for c in V["frames"]].index("ack")]
    assert frame.check(MACS[3], 4, bytes.fromhex(case["raw"])) is None


# What frame.check itself must refuse; the type checks are the pad's (check_pad).
INTEGRITY = ("bad_crc", "bad_tag", "truncated", "bad_cobs", "oversize", "unknown_device",
             "bad_version")


def test_pad_rejects_the_rejection_vectors():
    reader = frame.Reader()
    seen = 0
    for case in V["rejections"]:
        if case["reason"] not in INTEGRITY:
            continue
        seen += 1
        for raw in reader.feed(bytes.fromhex(case["wire"])):
            assert frame.check(MACS[3], 3, raw) is None, case["name"]
    assert seen >= len(INTEGRITY)


def test_reader_splits_and_bounds():
    case = V["frames"][0]
    wire = bytes.fromhex(case["wire"])
    reader = frame.Reader()
    got = []
    for i in range(len(wire) * 3):
        got += reader.feed(wire[i % len(wire) : i % len(wire) + 1])
    assert got == [bytes.fromhex(case["raw"])] * 3
    assert reader.feed(b"\x01" * 500 + b"\x00") == []
    assert reader.dropped == 1
    assert reader.feed(wire) == [bytes.fromhex(case["raw"])]


def test_levels():
    assert m.LEVEL_NAMES[m.level_of(2, 0)] == "satisfied"
    assert m.LEVEL_NAMES[m.level_of(2, 1)] == "unsatisfied"
    assert [m.LEVEL_NAMES[m.level_of(5, i)] for i in range(5)] == list(m.LEVEL_NAMES)


runner.main(globals())
