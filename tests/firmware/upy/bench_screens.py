# The pad's screens on the MicroPython unix port (run by tools/bench_screens with
# -X heapsize=64k): the pad's steady heap, taken apart, while its loop draws with a large
# glyph file; what one invite draw allocates; one glyph lookup's time next to one raw read.
#
# Usage: micropython -m bench_screens FONT_DIR [HALL_FONT_DIR] [heap-only]
# The firmware is imported from wherever sys.path finds it: a ROMFS image (code stays in
# flash, as on a board deployed with `mpremote romfs deploy` or a frozen build) or .mpy files
# on a filesystem (code copied into the heap). tools/bench_screens runs both.
#
# Accounting (all after gc.collect()):
#   bare         the interpreter alone, before anything was loaded (sys.argv[-1] when the
#                ROMFS launcher measured it, else at this module's start)
#   harness      this script's own module and its stand-ins for the board (fakes, runner;
#                imported after the firmware, so the firmware they use is counted as code)
#   code.NAME    what importing each firmware module adds, in the order a board imports them
#   objects      what the pad's setup and loop hold at the steady state: the pad, the fonts'
#                buffers, the screens, the 1 KB framebuffer the SSD1306 driver would own
#   pad          bare + code + objects: the figure the 32 KB goal is judged on
import array
import gc
import sys
import time

import framebuf

gc.collect()
_START = gc.mem_alloc()  # interpreter, this module's code (and a ROMFS image if mounted)

# The firmware a pad loads, in the order main.py imports it (boards/ and ssd1306 need
# the board's machine module; they are left out and said so).
FIRMWARE = ("ticks", "crc16", "cobs", "hmac_sha256", "messages", "frame", "fs", "outbox",
            "debounce", "display", "pad", "bootstate", "selftest", "serial_link", "app",
            "glyphs", "screens")


def load_firmware() -> list:
    costs = []
    for name in FIRMWARE:
        gc.collect()
        before = gc.mem_alloc()
        __import__(name)
        gc.collect()
        costs.append((name, gc.mem_alloc() - before))
    return costs


CODE = load_firmware()
gc.collect()
_BEFORE_HARNESS = gc.mem_alloc()
import fakes  # noqa: E402
import runner  # noqa: E402, F401  (fakes.fresh_fs loads it: here, so it is the harness's)

gc.collect()
_HARNESS_IMPORTS = gc.mem_alloc() - _BEFORE_HARNESS

import messages as m  # noqa: E402  (already loaded: binds names only)
from glyphs import HEADER, Glyphs  # noqa: E402
from pad import Pad  # noqa: E402
from screens import HEIGHT, INVITE, WIDTH, Screens  # noqa: E402

INVITE_TEXT = "张伟\n1024"
NAMES = ("张伟\n1024", "王喆\n2048", "阿卜杜热合曼·买买提明\n30015")


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
    """Set the pad up with the fonts in `folder`, run its loop for 100 s of board time with
    an invite every 2 s; returns (screens, io) and prints the heap figures."""
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
    for i in range(20000):
        t += 5
        phase = i % 400
        if phase == 0:  # the agent invites a rating with a staff name: the screen is drawn
            down += 1
            body = bytes((m.INVITE,)) + NAMES[(i // 400) % 3].encode()
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
    print(tag + "objects_init", after_init - base)
    print(tag + "objects_steady", max(steady) - base)
    print(tag + "drift", steady[-1] - steady[0])
    print(tag + "peak_over_steady", peak - max(steady))
    print(tag + "draws", io.draws)
    return screens, io


def draw_allocation(screens, io):
    worst = 0
    for text in (INVITE_TEXT, NAMES[2]):
        for _ in range(5):
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            screens.draw(io.fb, INVITE, text)
            used = gc.mem_alloc() - before
            gc.enable()
            worst = max(worst, used)
    print("alloc_invite_worst", worst)
    n = 200
    t0 = time.ticks_us()
    for _ in range(n):
        screens.draw(io.fb, INVITE, INVITE_TEXT)
    print("invite_draw_us", time.ticks_diff(time.ticks_us(), t0) // n)


def lookup_time(folder):
    small = Glyphs(folder + "/font16.bin", 16, framebuf)
    step = max(1, small.count // 500)
    probes = array.array("i", [0] * ((small.count + step - 1) // step))
    entry = bytearray(3)
    with open(folder + "/font16.bin", "rb") as f:
        for n, i in enumerate(range(0, small.count, step)):
            f.seek(HEADER + 3 * i)
            f.readinto(entry)
            probes[n] = entry[0] << 16 | entry[1] << 8 | entry[2]
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
    args = [a for a in sys.argv[1:] if not a.startswith("bare=") and a != "heap-only"]
    bare = [int(a[5:]) for a in sys.argv[1:] if a.startswith("bare=")]
    print("bare", bare[0] if bare else _START)
    print("start", _START)
    print("harness_imports", _HARNESS_IMPORTS)
    for name, cost in CODE:
        print("code." + name, cost)
    print("code", sum(cost for _, cost in CODE))
    folder = args[0]
    if len(args) > 1:  # a hall-sized font first: the heap must not depend on the font
        small_screens, _ = heap_of_the_loop(args[1], "hall_")
        small_screens.small.close()
        small_screens.large.close()
        del small_screens
        gc.collect()
    screens, io = heap_of_the_loop(folder, "")
    draw_allocation(screens, io)
    del screens, io
    gc.collect()
    if "heap-only" not in sys.argv:
        lookup_time(folder)


main()
