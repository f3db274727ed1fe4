"""A bitmap font read from flash one glyph at a time, so a hall's font costs flash, not heap.

File layout (docs/display.md; written by tools/glyphfile.py), big-endian:
  header   16 bytes: b"WEGF", version u8 (1), height u8, reserved u16, count u32,
           record size u16, reserved u16
  index    count code points, u24 each, strictly increasing
  records  count fixed-size records, in index order: code point u24, advance width u8,
           then the bitmap, MONO_HLSB, height rows of (height + 7) // 8 bytes

At open, every PAGE-th code point of the index is kept in RAM (3 bytes per 64 glyphs); a
lookup is a binary search over those, one read of the page of the index it points to, and
one read of the record, with seek and readinto into buffers made once: it allocates
nothing. A file that is missing, short, or whose record does not match its index entry
never raises: the glyph is reported missing (the caller draws a placeholder) and `fault`
names what was wrong, for the pad's fault report.
"""

MAGIC = b"WEGF"
VERSION = 1
HEADER = 16
INDEX_ENTRY = 3
RECORD_HEAD = 4
PAGE = 64  # index entries per page: one read of 192 bytes

# Values of `fault` (the detail byte of the pad's display fault report).
FONT_OK = 0
FONT_MISSING = 1  # no file, or it cannot be read
FONT_BAD_HEADER = 2  # wrong magic, version, height or record size
FONT_TRUNCATED = 3  # shorter than its header says
FONT_BAD_RECORD = 4  # a record disagrees with the index (corrupt flash)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def row_bytes(height: int) -> int:
    return (height + 7) // 8


def record_size(height: int) -> int:
    return RECORD_HEAD + row_bytes(height) * height


class Glyphs:
    def __init__(self, path: str, height: int, framebuf: "Any") -> None:
        """`framebuf` is MicroPython's module, or a stand-in with the same API on CPython."""
        self.height = height
        self.fault = FONT_OK
        self.count = 0
        self._record = record_size(height)
        self._head = bytearray(RECORD_HEAD)
        self._page = bytearray(PAGE * INDEX_ENTRY)
        self._firsts = bytearray(0)  # the first code point of each page of the index
        self.bitmap = bytearray(row_bytes(height) * height)
        # The blit source over the bitmap buffer: each lookup refills the buffer in place.
        self.fb = framebuf.FrameBuffer(self.bitmap, row_bytes(height) * 8, height,
                                       framebuf.MONO_HLSB)
        self._f: Any = None
        self._open(path)

    def _open(self, path: str) -> None:
        try:
            f = open(path, "rb")  # noqa: SIM115 (kept open: glyphs are read on demand)
        except OSError:
            self.fault = FONT_MISSING
            return
        try:
            head = f.read(HEADER)
            size = f.seek(0, 2)
        except OSError:
            f.close()
            self.fault = FONT_MISSING
            return
        if (len(head) != HEADER or head[:4] != MAGIC or head[4] != VERSION
                or head[5] != self.height
                or (head[12] << 8 | head[13]) != self._record):
            f.close()
            self.fault = FONT_BAD_HEADER
            return
        count = head[8] << 24 | head[9] << 16 | head[10] << 8 | head[11]
        if size < HEADER + count * (INDEX_ENTRY + self._record):
            f.close()
            self.fault = FONT_TRUNCATED
            return
        firsts = bytearray(((count + PAGE - 1) // PAGE) * INDEX_ENTRY)
        try:
            for p in range(len(firsts) // INDEX_ENTRY):
                f.seek(HEADER + p * PAGE * INDEX_ENTRY)
                entry = f.read(INDEX_ENTRY)
                if len(entry) != INDEX_ENTRY:
                    raise OSError
                firsts[p * INDEX_ENTRY:(p + 1) * INDEX_ENTRY] = entry
        except OSError:
            f.close()
            self.fault = FONT_TRUNCATED
            return
        self._firsts = firsts
        self.count = count
        self._f = f

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def find(self, cp: int) -> int:
        """The advance width of code point `cp` with its bitmap in `self.bitmap`/`self.fb`,
        or -1 when the font lacks it (or cannot be read: see `fault`)."""
        f = self._f
        if f is None:
            return -1
        try:
            i = self._search(f, cp)
            if i < 0:
                return -1
            f.seek(HEADER + self.count * INDEX_ENTRY + i * self._record)
            head = self._head
            if f.readinto(head) != RECORD_HEAD or f.readinto(self.bitmap) != len(self.bitmap):
                return self._bad(FONT_TRUNCATED)
        except OSError:
            return self._bad(FONT_MISSING)
        width = head[3]
        if (head[0] << 16 | head[1] << 8 | head[2]) != cp or not 0 < width <= self.height:
            return self._bad(FONT_BAD_RECORD)
        return width

    def _search(self, f: "Any", cp: int) -> int:
        """The index position of `cp`, or -1."""
        page = _last_at_most(self._firsts, len(self._firsts) // INDEX_ENTRY, cp)
        if page < 0:
            return -1
        n = min(PAGE, self.count - page * PAGE)
        f.seek(HEADER + page * PAGE * INDEX_ENTRY)
        buf = self._page
        if f.readinto(buf) < n * INDEX_ENTRY:
            self.fault = FONT_TRUNCATED
            return -1
        i = _last_at_most(buf, n, cp)
        if i < 0 or _entry(buf, i) != cp:
            return -1
        return page * PAGE + i

    def _bad(self, fault: int) -> int:
        self.fault = fault
        return -1


def _entry(buf: bytearray, i: int) -> int:
    at = i * INDEX_ENTRY
    return buf[at] << 16 | buf[at + 1] << 8 | buf[at + 2]


def _last_at_most(buf: bytearray, n: int, cp: int) -> int:
    """Binary search of the first n u24 entries of buf: the last one <= cp, or -1."""
    lo = 0
    hi = n - 1
    found = -1
    while lo <= hi:
        mid = (lo + hi) >> 1
        at = mid * 3
        if (buf[at] << 16 | buf[at + 1] << 8 | buf[at + 2]) <= cp:
            found = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return found
