# Heap and latency of the pad loop on the MicroPython unix port (run by tools/bench_firmware).
import gc
import time

import fakes
import frame
from pad import Pad


class NullStreamLink:
    polled = False

    def __init__(self):
        self.inbox = []
        self.sent = 0
        self.last = b""

    def send(self, raw):
        self.last = frame.wire(raw)
        self.sent += 1

    def recv(self):
        got = self.inbox
        self.inbox = []
        return got


def main():
    gc.collect()
    base = gc.mem_alloc()
    io = fakes.Io()
    io.shown = None
    io.show = lambda s, t, led: None
    link = NullStreamLink()
    p = Pad(fakes.CFG, io, link, fakes.fresh_fs(), 1, 0)
    gc.collect()
    after_init = gc.mem_alloc()
    peak = 0
    steady = []
    latencies = []
    down = 0
    t = 0
    for i in range(20000):
        t += 5
        phase = i % 400
        io.held = 1 if 100 <= phase < 120 else 0
        if phase == 106:  # the step at which the debounced press is recognised
            before_sent = link.sent
            t0 = time.ticks_us()
            p.step(t)
            latencies.append(time.ticks_diff(time.ticks_us(), t0))
            assert link.sent == before_sent + 1
        else:
            p.step(t)
        if phase == 150 and p.outbox.head():
            head = p.outbox.head()
            down += 1
            link.inbox = [fakes.ack(head[1], head[0], down)]
        used = gc.mem_alloc()
        if used > peak:
            peak = used
        if i % 2000 == 1999:
            gc.collect()
            steady.append(gc.mem_alloc())
    latencies.sort()
    print("heap_base", base)
    print("heap_pad_init", after_init - base)
    print("heap_steady_total", max(steady))
    print("heap_steady_pad", max(steady) - base)
    print("heap_steady_drift", steady[-1] - steady[0])
    print("heap_peak_total", peak)
    print("press_to_wire_us_median", latencies[len(latencies) // 2])
    print("press_to_wire_us_max", latencies[-1])
    print("presses", len(latencies), "frames", link.sent, "outbox", len(p.outbox))


main()
