# Drawing operations run on MicroPython's framebuf and on edge_agent.pixels; the test
# compares the bytes. Prints one hex line per case.
try:
    import framebuf
except ImportError:  # CPython
    from edge_agent import pixels as framebuf


def cases():
    out = []
    src = bytearray(range(7, 7 + 2 * 13))  # a 13x13 MONO_HLSB picture, stride 16
    glyph = framebuf.FrameBuffer(src, 13, 13, framebuf.MONO_HLSB)
    for x, y in ((0, 0), (-5, -3), (120, 58), (60, 20), (-12, 60)):
        for key in (-1, 0, 1):
            buf = bytearray(32 * 24 // 8)
            fb = framebuf.FrameBuffer(buf, 32, 24, framebuf.MONO_VLSB)
            fb.fill(0)
            fb.rect(1, 1, 30, 22, 1)
            fb.fill_rect(x % 32, y % 24, 9, 5, 1)
            fb.hline(-3, 7, 50, 0)
            fb.vline(20, -4, 40, 1)
            fb.pixel(3, 3, 0)
            fb.blit(glyph, x % 40 - 8, y % 30 - 6, key)
            out.append(bytes(buf))
    big = bytearray(128 * 64 // 8)
    fb = framebuf.FrameBuffer(big, 128, 64, framebuf.MONO_VLSB)
    fb.fill(1)
    fb.rect(-2, -2, 20, 20, 0)
    fb.rect(100, 50, 40, 40, 0)
    out.append(bytes(big))
    return out


for case in cases():
    print(case.hex())
