# The pad's screens on the MicroPython unix port (run by tools/bench_screens with
# -X heapsize=64k): heap of the pad loop drawing with a large glyph file, allocation of one
# invite draw, and the time of one glyph lookup next to one raw record read.
# Usage: micropython -m bench_screens FONT_DIR
import gc
import sys
import time

import fakes
import framebuf
import messages as m
from pad import Pad

gc.collect()
_before = gc.mem_alloc()
from glyphs import HEADER, Glyphs  # noqa: E402 (measured: the display's code in RAM)
from screens import HEIGHT, INVITE, WIDTH, Screens  # noqa: E402

gc.collect()
CODE = gc.mem_alloc() - _before

INVITE_TEXT = "张伟\n1024"


class NullLink:
    polled = False

    def __init__(self):
        self.inbox = []

    def send(self, raw):
        pass

    def recv(self):
        got = self.inbox
        self.inbox = []
        return got


class ScreenIo:
    """The board's show(): the pad's screens drawn into an SSD1306-sized framebuffer."""

    def __init__(self, screens):
        self.held = 0
        self.screens = screens
        self.buf = bytearray(WIDTH * HEIGHT // 8)
        self.fb = framebuf.FrameBuffer(self.buf, WIDTH, HEIGHT, framebuf.MONO_VLSB)
        self.draws = 0

    def keys(self):
        return self.held

    def show(self, screen, text, led):
        self.draws += 1
        return self.screens.draw(self.fb, screen, text)


def heap_of_the_loop(folder, tag):
    gc.collect()
    base = gc.mem_alloc()
    small = Glyphs(folder + "/font16.bin", 16, framebuf)
    large = Glyphs(folder + "/font32.bin", 32, framebuf)
    screens = Screens(small, large, {"keys": 5, "counter": "不动产登记 1"})
    io = ScreenIo(screens)
    link = NullLink()
    pad = Pad(fakes.CFG, io, link, fakes.fresh_fs(), 1, 0)
    gc.collect()
    after_init = gc.mem_alloc()
    steady = []
    peak = 0
    t = 0
    down = 0
    names = ("张伟\n1024", "王喆\n2048", "阿卜杜热合曼·买买提明\n30015")
    for i in range(20000):
        t += 5
        phase = i % 400
        if phase == 0:  # the agent invites a rating with a staff name: the screen is drawn
            down += 1
            body = bytes((m.INVITE,)) + names[(i // 400) % 3].encode()
            link.inbox = [fakes.down(m.DISPLAY, down, body)]
        io.held = 1 if 100 <= phase < 120 else 0
        pad.step(t)
        if phase == 150 and pad.outbox.head():
            head = pad.outbox.head()
            down += 1
            link.inbox = [fakes.ack(head[1], head[0], down)]
        used = gc.mem_alloc()
        if used > peak:
            peak = used
        if i % 2000 == 1999:
            gc.collect()
            steady.append(gc.mem_alloc())
    print(tag + "glyphs", small.count, large.count)
    print(tag + "font_fault", screens.fault())
    print(tag + "heap_base", base)
    print(tag + "heap_display_and_pad_init", after_init - base)
    print(tag + "heap_steady_total", max(steady))
    print(tag + "heap_steady_objects", max(steady) - base)
    print(tag + "heap_steady_drift", steady[-1] - steady[0])
    print(tag + "heap_peak_total", peak)
    print(tag + "draws", io.draws)
    return screens, io


def draw_allocation(screens, io):
    worst = 0
    for text in (INVITE_TEXT, "阿卜杜热合曼·买买提明\n30015"):
        for _ in range(5):
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            screens.draw(io.fb, INVITE, text)
            used = gc.mem_alloc() - before
            gc.enable()
            worst = max(worst, used)
        print("alloc_invite_bytes", text.split("\n")[0], used)
    print("alloc_invite_worst", worst)
    n = 200
    t0 = time.ticks_us()
    for _ in range(n):
        screens.draw(io.fb, INVITE, INVITE_TEXT)
    print("invite_draw_us", time.ticks_diff(time.ticks_us(), t0) // n)


def lookup_time(folder):
    small = Glyphs(folder + "/font16.bin", 16, framebuf)
    step = max(1, small.count // 500)
    probes = []
    with open(folder + "/font16.bin", "rb") as f:
        for i in range(0, small.count, step):
            f.seek(HEADER + 3 * i)
            e = f.read(3)
            probes.append(e[0] << 16 | e[1] << 8 | e[2])
    rounds = 4
    t0 = time.ticks_us()
    for _ in range(rounds):
        for cp in probes:
            small.find(cp)
    found_us = time.ticks_diff(time.ticks_us(), t0) / (rounds * len(probes))
    t0 = time.ticks_us()
    for _ in range(rounds):
        for cp in probes:
            small.find(cp + 0x100000)  # absent: a full binary search
    absent_us = time.ticks_diff(time.ticks_us(), t0) / (rounds * len(probes))
    # Baseline: one seek and readinto of a record, no search.
    f = open(folder + "/font16.bin", "rb")  # noqa: SIM115 (closed with the process)
    rec = bytearray(4 + 32)
    base = HEADER + small.count * 3
    t0 = time.ticks_us()
    for _ in range(rounds):
        for i in range(len(probes)):
            f.seek(base + i * step * 36)
            f.readinto(rec)
    raw_us = time.ticks_diff(time.ticks_us(), t0) / (rounds * len(probes))
    print("lookup_found_us", found_us)
    print("lookup_absent_us", absent_us)
    print("record_read_us", raw_us)


def main():
    folder = sys.argv[1]
    print("display_code", CODE)
    if len(sys.argv) > 2:  # a hall-sized font first: the heap must not depend on the font
        small_screens, _ = heap_of_the_loop(sys.argv[2], "hall_")
        small_screens.small.close()
        small_screens.large.close()
        del small_screens
        gc.collect()
    screens, io = heap_of_the_loop(folder, "")
    draw_allocation(screens, io)
    del screens, io
    gc.collect()
    lookup_time(folder)


main()
