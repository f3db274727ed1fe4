# Stand-ins for a board's parts, shared by the firmware checks.
import os

import frame
import messages as m
from fs import Fs
from hmac_sha256 import HmacSha256

KEY_HEX = "00" * 31 + "07"
CFG = {"device": "A01-pad", "counter": "A01", "hall": "qingpu", "address": 3, "keys": 2,
       "key": KEY_HEX, "link": "usb", "board": "pico"}
MAC = HmacSha256(bytes.fromhex(KEY_HEX))


class Io:
    def __init__(self) -> None:
        self.held = 0
        self.shown = []

    def keys(self) -> int:
        return self.held

    def show(self, screen: int, text: str, led: bool) -> None:
        self.shown.append((screen, text, led))


class Link:
    def __init__(self, polled: bool = False) -> None:
        self.polled = polled
        self.sent = []
        self.inbox = []

    def send(self, raw: bytes) -> None:
        self.sent.append(raw)

    def recv(self) -> list:
        got = self.inbox
        self.inbox = []
        return got


def up(raw: bytes) -> tuple:
    """(type, boot, seq, payload) of an upstream frame, checking its CRC and tag."""
    assert frame.crc_ok(raw) and frame.tag_ok(MAC, raw)
    _, address, kind, boot, seq = frame.head(raw)
    assert address == 3
    return kind, boot, seq, frame.payload(raw)


def down(kind: int, seq: int, body: bytes, boot: int = 1) -> bytes:
    return frame.seal(MAC, 3, kind, boot, seq, body)


def ack(seq: int, boot: int, down_seq: int = 1) -> bytes:
    return down(m.ACK, down_seq, m.ack(boot, seq))


_count = [0]


def fresh_fs() -> Fs:
    """An empty folder under the scratch dir, unique within this process."""
    import runner

    _count[0] += 1
    path = runner.scratch() + "/fs" + str(_count[0])
    try:
        os.mkdir(path)
    except OSError:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
    return Fs(path)
