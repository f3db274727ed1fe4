# N pads on one RS-485 bus, the bus a pty: every frame on the line reaches the pad whose
# address it carries. Usage: micropython -m bus_board PTY FS_DIR N
import os
import sys
import time

import frame
from fs import Fs
from pad import Pad
from unix_board import PtyStream


class BusLink:
    polled = True

    def __init__(self, stream):
        self._stream = stream
        self.inbox = []

    def send(self, raw):
        self._stream.write(frame.wire(raw))

    def recv(self):
        got = self.inbox
        self.inbox = []
        return got


class NoKeys:
    def keys(self):
        return 0

    def show(self, screen, text, led):
        pass


def main():
    path, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stream = PtyStream(path)
    reader = frame.Reader()
    pads = {}
    for address in range(1, n + 1):
        key = bytes([address]).hex() * 32
        cfg = {"address": address, "keys": 2, "key": key, "link": "rs485"}
        folder = root + "/pad" + str(address)
        try:  # noqa: SIM105 (MicroPython has no contextlib)
            os.mkdir(folder)
        except OSError:
            pass
        link = BusLink(stream)
        pads[address] = (Pad(cfg, NoKeys(), link, Fs(folder), 1, time.ticks_ms()), link)
    print("ready")
    last_tick = time.ticks_ms()
    while True:
        data = stream.read_ready()
        now = time.ticks_ms()
        for raw in reader.feed(data) if data else ():
            if len(raw) > 1 and raw[1] in pads:
                pad, link = pads[raw[1]]
                link.inbox.append(raw)
                pad.step(now)
        if time.ticks_diff(now, last_tick) >= 100:
            last_tick = now
            for pad, _ in pads.values():
                pad.step(now)
        if not data:
            stream.wait(1)


main()
