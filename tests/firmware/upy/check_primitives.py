# CRC-16, COBS and HMAC-SHA256 against the shared vectors.
import cobs
import runner
from crc16 import crc16
from hmac_sha256 import HmacSha256, equal

V = runner.load_vectors()["primitives"]


def test_crc16_vectors():
    for case in V["crc16"]:
        assert crc16(bytes.fromhex(case["data"])) == case["crc"], case


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_cobs_vectors():
    for case in V["cobs"]:
        data = bytes.fromhex(case["data"])
        assert cobs.encode(data).hex() == case["encoded"], case
        assert cobs.decode(bytes.fromhex(case["encoded"])) == data


def test_cobs_rejects_zero_and_overrun():
    assert cobs.decode(b"\x03\x01\x00") is None
    assert cobs.decode(b"\x05\x01\x02") is None
    assert cobs.decode(b"\x00") is None


def test_cobs_round_trip_with_zeros():
    for n in range(0, 300, 7):
        data = bytes([(i * 7) % 5 for i in range(n)])
        enc = cobs.encode(data)
        assert 0 not in enc
        assert cobs.decode(enc) == data


def test_hmac_rfc4231():
    for case in V["hmac_sha256"]:
        mac = HmacSha256(bytes.fromhex(case["key"]))
        assert mac.digest(bytes.fromhex(case["data"])).hex() == case["mac"], case


def test_equal():
    assert equal(b"abc", b"abc")
    assert not equal(b"abc", b"abd")
    assert not equal(b"abc", b"ab")


runner.main(globals())
