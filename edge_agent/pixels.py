"""The part of MicroPython's ``framebuf`` that the pad's drawing code (firmware/screens.py)
uses, in pure Python, so CPython draws the same bytes the board does.

Only the two one-bit formats: MONO_VLSB (the SSD1306's memory layout, the screen) and
MONO_HLSB (the glyph file's bitmaps). Clipping follows MicroPython's: drawing outside the
buffer is silently cut.
"""

from __future__ import annotations

MONO_VLSB = 0
MONO_HLSB = 3


class FrameBuffer:
    def __init__(self, buf: bytearray, width: int, height: int, fmt: int) -> None:
        if fmt not in (MONO_VLSB, MONO_HLSB):
            raise ValueError(f"format {fmt} not supported (MONO_VLSB or MONO_HLSB only)")
        self.buf = buf
        self.width = width
        self.height = height
        self.fmt = fmt
        self.stride = width if fmt == MONO_VLSB else (width + 7) & ~7

    def _at(self, x: int, y: int) -> tuple[int, int]:
        """(byte index, bit mask) of a pixel inside the buffer."""
        if self.fmt == MONO_VLSB:
            return (y >> 3) * self.stride + x, 1 << (y & 7)
        return (x + y * self.stride) >> 3, 0x80 >> (x & 7)

    def _set(self, x: int, y: int, c: int) -> None:
        index, mask = self._at(x, y)
        if c & 1:
            self.buf[index] |= mask
        else:
            self.buf[index] &= ~mask & 0xFF

    def pixel(self, x: int, y: int, c: int | None = None) -> int | None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            return None
        if c is None:
            index, mask = self._at(x, y)
            return 1 if self.buf[index] & mask else 0
        self._set(x, y, c)
        return None

    def fill(self, c: int) -> None:
        if self.fmt == MONO_VLSB and self.height % 8 == 0:  # every byte is whole pixels
            size = self.width * self.height // 8
            self.buf[:size] = bytes([0xFF if c & 1 else 0]) * size
        else:
            self.fill_rect(0, 0, self.width, self.height, c)

    def fill_rect(self, x: int, y: int, w: int, h: int, c: int) -> None:
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        for yy in range(y0, y1):
            for xx in range(x0, x1):
                self._set(xx, yy, c)

    def hline(self, x: int, y: int, w: int, c: int) -> None:
        self.fill_rect(x, y, w, 1, c)

    def vline(self, x: int, y: int, h: int, c: int) -> None:
        self.fill_rect(x, y, 1, h, c)

    def rect(self, x: int, y: int, w: int, h: int, c: int, fill: bool = False) -> None:
        if fill:
            self.fill_rect(x, y, w, h, c)
            return
        if w <= 0 or h <= 0:
            return
        self.fill_rect(x, y, w, 1, c)
        self.fill_rect(x, y + h - 1, w, 1, c)
        self.fill_rect(x, y, 1, h, c)
        self.fill_rect(x + w - 1, y, 1, h, c)

    def blit(self, src: FrameBuffer, x: int, y: int, key: int = -1) -> None:
        """Copy `src` with its top left at (x, y); pixels of colour `key` are left out."""
        xs = range(max(0, -x), min(src.width, self.width - x))
        ys = range(max(0, -y), min(src.height, self.height - y))
        if key == 0 and src.fmt == MONO_HLSB:  # a glyph: only its lit pixels, byte by byte
            self._blit_lit(src, x, y, xs, ys)
            return
        for sy in ys:
            for sx in xs:
                index, mask = src._at(sx, sy)
                c = 1 if src.buf[index] & mask else 0
                if c != key:
                    self._set(x + sx, y + sy, c)

    def _blit_lit(self, src: FrameBuffer, x: int, y: int, xs: range, ys: range) -> None:
        for sy in ys:
            row = sy * src.stride >> 3
            for bx in range(xs.start >> 3, (xs.stop + 7) >> 3):
                byte = src.buf[row + bx]
                if not byte:
                    continue
                for bit in range(8):
                    sx = bx * 8 + bit
                    if byte & (0x80 >> bit) and xs.start <= sx < xs.stop:
                        self._set(x + sx, y + sy, 1)
