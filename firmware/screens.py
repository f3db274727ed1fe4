"""What the pad and the sign draw for each screen, onto a 128x64 MONO_VLSB framebuffer.

The one drawing path: the boards call it on the SSD1306's own framebuffer, and
tools/padscreen and the agent's status page run this same module (on the MicroPython unix
port, or on CPython with a pure-Python framebuf) to show what a citizen sees.

Text is UTF-8 bytes walked by index, so drawing a screen allocates almost nothing. A line
that does not fit wraps at a character boundary; when the screen's area has no room for
the rest, its last line ends with an ellipsis (…, or '..' in a font without it), never a
silent cut; a character missing from the font is drawn as an empty box.

It imports nothing, so a host can load it (and glyphs.py) by path without the rest of the
firmware.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from glyphs import Glyphs

# The screens of a display command (messages.py, where the protocol defines them).
CLOSED = 0
WELCOME = 1
INVITE = 2
THANKS = 3
PAUSED = 4

WIDTH = 128
HEIGHT = 64
SMALL = 16
LARGE = 32
WIDE_FROM = 0x2E80  # CJK and full-width forms: a full-cell placeholder; below, a half cell
ELLIPSIS = 0x2026  # … ends a line when the text does not fit
FULL_STOP = 0x2E  # '..' instead, in a font without …
DOT_CELL = 4  # and two drawn dots, in a font without either

# The hall file's [display] section overrides these (docs/configuration.md).
CAPTIONS = {
    "closed": "暂停服务",
    "welcome": "欢迎光临",
    "invite": "请您评价",
    "thanks": "谢谢您的评价",
    "paused": "暂停服务",
    "serving": "正在服务",
    "staff_no": "工号",
    "keys_5": "满意12345不满意",
}


def cp_at(data: bytes, i: int) -> int:
    """The code point of the UTF-8 sequence starting at data[i]."""
    b = data[i]
    if b < 0x80:
        return b
    if b < 0xE0:
        return (b & 0x1F) << 6 | (data[i + 1] & 0x3F)
    if b < 0xF0:
        return (b & 0x0F) << 12 | (data[i + 1] & 0x3F) << 6 | (data[i + 2] & 0x3F)
    return ((b & 0x07) << 18 | (data[i + 1] & 0x3F) << 12 | (data[i + 2] & 0x3F) << 6
            | (data[i + 3] & 0x3F))


def cp_len(lead: int) -> int:
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def placeholder_width(font: "Glyphs", cp: int) -> int:
    return font.height if cp >= WIDE_FROM else font.height // 2


class Screens:
    def __init__(self, small: "Glyphs", large: "Glyphs", settings: dict) -> None:
        """settings: display.json as written by tools/provision (kind, keys, counter,
        captions); anything missing takes its default."""
        self.small = small
        self.large = large
        self.sign = settings.get("kind") == "sign"
        self.five = settings.get("keys") == 5
        self.counter = str(settings.get("counter") or "").encode()
        given = settings.get("captions")
        given = given if isinstance(given, dict) else {}
        self.captions = {}
        for name in CAPTIONS:
            value = given.get(name)
            self.captions[name] = (value if isinstance(value, str) else CAPTIONS[name]).encode()
        self._width = 0  # width of the last line measured

    def fault(self) -> int:
        """The first font fault seen (glyphs.FONT_*), 0 when both fonts read well."""
        return self.small.fault or self.large.fault

    def draw(self, fb: "Any", screen: int, text: str) -> int:
        """Draw `screen` with `text` (the agent's: the staff name, a newline, the staff
        number) on `fb`; returns fault()."""
        fb.fill(0)
        data = text.encode()
        split = data.find(b"\n")
        name_end = split if split >= 0 else len(data)
        cap = self.captions
        small = self.small
        if self.sign and screen in (WELCOME, INVITE, THANKS):
            self._lines(fb, self.large, cap["serving"], 0, -1, 0, 32)
            self._lines(fb, small, self.counter, 0, -1, 32, 48)
            self._lines(fb, small, data, 0, name_end, 48, HEIGHT)
        elif screen in (CLOSED, PAUSED):
            caption = cap["closed"] if screen == CLOSED else cap["paused"]
            self._lines(fb, self.large, caption, 0, -1, 4, 40)
            self._lines(fb, small, self.counter, 0, -1, 44, HEIGHT)
        elif screen == WELCOME:
            self._lines(fb, self.large, cap["welcome"], 0, -1, 0, 32)
            self._lines(fb, small, self.counter, 0, -1, 32, 48)
            self._lines(fb, small, data, 0, name_end, 48, HEIGHT)
        elif screen == INVITE:
            self._invite(fb, data, name_end)
        elif screen == THANKS:
            self._lines(fb, self.large, cap["thanks"], 0, -1, 0, HEIGHT)
        return self.fault()

    def _invite(self, fb: "Any", data: bytes, name_end: int) -> None:
        small = self.small
        bottom = HEIGHT - SMALL if self.five else HEIGHT
        y = self._lines(fb, small, self.captions["invite"], 0, -1, 0, bottom)
        has_number = name_end < len(data) - 1
        # The name may wrap, but leaves a line for the staff number.
        y = self._lines(fb, small, data, 0, name_end, y, bottom - SMALL if has_number else bottom)
        if has_number:
            number = self.captions["staff_no"] + b" " + data[name_end + 1:]
            self._lines(fb, small, number, 0, -1, y, bottom)
        if self.five:
            self._lines(fb, small, self.captions["keys_5"], 0, -1, bottom, HEIGHT)

    def _lines(self, fb: "Any", font: "Glyphs", data: bytes, start: int, end: int, top: int,
               bottom: int) -> int:
        """Draw data[start:end] (end -1: to the end) centred, wrapped at character
        boundaries, in lines from `top` while a whole line fits above `bottom`; a newline
        breaks the line. When text is left over for want of room, the last line ends with an
        ellipsis. Returns the y below the last line drawn."""
        if end < 0:
            end = len(data)
        h = font.height
        y = top
        i = start
        while i < end and y + h <= bottom:
            j = self._line_end(font, data, i, end, WIDTH)
            k = j + 1 if j < end and data[j] == 10 else j
            if k < end and y + 2 * h > bottom:  # text left over, no line after this one
                dots = self._dots_width(font)
                j = self._line_end(font, data, i, end, WIDTH - dots)
                x = (WIDTH - self._width - dots) // 2
                self._run(fb, font, data, i, j, x, y)
                self._dots(fb, font, x + self._width, y)
                return y + h
            self._run(fb, font, data, i, j, (WIDTH - self._width) // 2, y)
            y += h
            i = k
        return y

    def _line_end(self, font: "Glyphs", data: bytes, i: int, end: int, room: int) -> int:
        """Where the line starting at data[i] ends within `room` pixels (one character at
        least); its width is left in self._width."""
        width = 0
        while i < end:
            cp = cp_at(data, i)
            if cp == 10:
                break
            w = font.find(cp)
            if w < 0:
                w = placeholder_width(font, cp)
            if width + w > room and width > 0:
                break
            width += w
            i += cp_len(data[i])
        self._width = width
        return i

    def _dots_width(self, font: "Glyphs") -> int:
        """Width of the ellipsis: the font's …, else two of its full stops, else two
        drawn dots."""
        w = font.find(ELLIPSIS)
        if w > 0:
            return w
        w = font.find(FULL_STOP)
        return 2 * w if w > 0 else 2 * DOT_CELL

    def _dots(self, fb: "Any", font: "Glyphs", x: int, y: int) -> None:
        if font.find(ELLIPSIS) > 0:
            fb.blit(font.fb, x, y, 0)
            return
        w = font.find(FULL_STOP)
        if w > 0:
            fb.blit(font.fb, x, y, 0)
            fb.blit(font.fb, x + w, y, 0)
            return
        base = y + font.height - 3
        fb.fill_rect(x + 1, base, 2, 2, 1)
        fb.fill_rect(x + DOT_CELL + 1, base, 2, 2, 1)

    def _run(self, fb: "Any", font: "Glyphs", data: bytes, i: int, end: int, x: int,
             y: int) -> None:
        h = font.height
        while i < end:
            cp = cp_at(data, i)
            w = font.find(cp)
            if w < 0:
                w = placeholder_width(font, cp)
                fb.rect(x + 1, y + 1, w - 2, h - 2, 1)
            else:
                fb.blit(font.fb, x, y, 0)
            x += w
            i += cp_len(data[i])
