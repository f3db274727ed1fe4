# The glyph reader and the pad's display fault, on both Pythons. The font files are built
# here byte by byte (layout: firmware/glyphs.py), so this needs no Pillow.
import struct

import fakes
import glyphs
import messages as m
import runner
from pad import Pad

try:
    import framebuf
except ImportError:  # CPython
    from edge_agent import pixels as framebuf

H = 16
RB = 2


def bitmap(cp):
    return bytes((cp + i) & 0xFF for i in range(RB * H))


def font_bytes(cps, height=H, record=None, count=None):
    record = record or glyphs.record_size(height)
    cps = sorted(cps)
    out = bytearray(struct.pack(">4sBBHIHH", b"WEGF", 1, height, 0,
                                len(cps) if count is None else count, record, 0))
    for cp in cps:
        out += bytes((cp >> 16, (cp >> 8) & 0xFF, cp & 0xFF))
    for cp in cps:
        out += bytes((cp >> 16, (cp >> 8) & 0xFF, cp & 0xFF, 8 if cp < 128 else 15))
        out += bitmap(cp)
    return bytes(out)


def write(name, data):
    path = runner.scratch() + "/" + name
    with open(path, "wb") as f:
        f.write(data)
    return path


CPS = [0x41, 0x31, 0x5F20, 0x4F1F, 0x20BB6]


def test_finds_each_glyph_with_its_width_and_bitmap():
    g = glyphs.Glyphs(write("ok.bin", font_bytes(CPS)), H, framebuf)
    for cp in CPS:
        assert g.find(cp) == (8 if cp < 128 else 15), cp
        assert bytes(g.bitmap) == bitmap(cp)
    assert g.fault == glyphs.FONT_OK and g.count == len(CPS)


def test_a_font_of_many_index_pages():
    cps = [0x4E00 + 3 * i for i in range(3 * glyphs.PAGE + 5)]
    path = runner.scratch() + "/pages.bin"
    with open(path, "wb") as f:  # piece by piece: the whole file would not fit a 64 KB heap
        f.write(struct.pack(">4sBBHIHH", b"WEGF", 1, H, 0, len(cps), glyphs.record_size(H), 0))
        for cp in cps:
            f.write(bytes((cp >> 16, (cp >> 8) & 0xFF, cp & 0xFF)))
        for cp in cps:
            f.write(bytes((cp >> 16, (cp >> 8) & 0xFF, cp & 0xFF, 15)))
            f.write(bitmap(cp))
    g = glyphs.Glyphs(path, H, framebuf)
    for cp in cps:
        assert g.find(cp) == 15, cp
        assert bytes(g.bitmap) == bitmap(cp)
        assert g.find(cp + 1) == -1 and g.find(cp - 1) == -1
    assert g.find(0x20) == -1 and g.find(cps[-1] + 3) == -1
    assert g.fault == glyphs.FONT_OK


def test_a_glyph_the_font_lacks_is_minus_one_and_no_fault():
    g = glyphs.Glyphs(write("ok.bin", font_bytes(CPS)), H, framebuf)
    for cp in (0, 0x40, 0x42, 0x5F21, 0x10FFFF):
        assert g.find(cp) == -1
    assert g.fault == glyphs.FONT_OK


def test_missing_file():
    g = glyphs.Glyphs(runner.scratch() + "/no-such-font.bin", H, framebuf)
    assert g.find(0x41) == -1 and g.fault == glyphs.FONT_MISSING


def test_bad_header_and_wrong_height():
    bad = b"XXXX" + font_bytes(CPS)[4:]
    assert glyphs.Glyphs(write("bad.bin", bad), H, framebuf).fault == glyphs.FONT_BAD_HEADER
    g = glyphs.Glyphs(write("ok.bin", font_bytes(CPS)), 32, framebuf)
    assert g.fault == glyphs.FONT_BAD_HEADER and g.find(0x41) == -1


def test_truncated_file():
    data = font_bytes(CPS)
    for cut in (0, 10, 16, 20, len(data) - 1):
        g = glyphs.Glyphs(write("cut.bin", data[:cut]), H, framebuf)
        assert g.find(0x41) == -1
        assert g.fault in (glyphs.FONT_BAD_HEADER, glyphs.FONT_TRUNCATED), (cut, g.fault)


def test_a_record_that_disagrees_with_the_index_is_a_fault():
    data = bytearray(font_bytes(CPS))
    first = 16 + 3 * len(CPS)
    data[first + 2] ^= 0x01  # the record of the lowest code point names another one
    g = glyphs.Glyphs(write("flip.bin", bytes(data)), H, framebuf)
    assert g.find(min(CPS)) == -1 and g.fault == glyphs.FONT_BAD_RECORD
    data = bytearray(font_bytes(CPS))
    data[first + 3] = 0  # width 0
    g = glyphs.Glyphs(write("zero.bin", bytes(data)), H, framebuf)
    assert g.find(min(CPS)) == -1 and g.fault == glyphs.FONT_BAD_RECORD


def test_a_lookup_allocates_nothing():
    try:
        import gc

        alloc = gc.mem_alloc
    except AttributeError:  # CPython: no heap figure to read
        return
    g = glyphs.Glyphs(write("ok.bin", font_bytes(CPS)), H, framebuf)
    g.find(0x41)
    gc.collect()
    before = alloc()
    for cp in CPS:
        g.find(cp)
        g.find(cp + 1)
    assert alloc() - before == 0, alloc() - before


class FaultyIo(fakes.Io):
    def show(self, screen, text, led):
        self.shown.append((screen, text, led))
        return glyphs.FONT_TRUNCATED


def test_the_pad_reports_a_display_fault_once():
    io = FaultyIo()
    p = Pad(fakes.CFG, io, fakes.Link(), fakes.fresh_fs(), 1, 0)
    p.display.command(0, m.INVITE, "x")
    for t in range(0, 4000, 5):
        p.step(t)  # the LED blinks: show is called again and again
    assert len(io.shown) > 2, io.shown
    faults = [e for e in p.outbox.entries if e[2] == m.FAULT]
    assert len(faults) == 1, faults
    assert faults[0][3] == m.fault(m.FAULT_DISPLAY, glyphs.FONT_TRUNCATED, True)


runner.main(globals())
