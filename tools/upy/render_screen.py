# Draw one screen with the firmware's own code and write the display's memory (1024 bytes,
# MONO_VLSB) to a file. Runs on the MicroPython unix port (tools/padscreen) with the
# firmware folder on MICROPYPATH.
# Usage: micropython render_screen.py FONT_DIR SCREEN TEXT OUT
import json
import sys

import framebuf
from glyphs import Glyphs
from screens import HEIGHT, WIDTH, Screens


def main() -> None:
    folder, screen, text, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    try:
        with open(folder + "/display.json") as f:
            settings = json.load(f)
    except (OSError, ValueError):
        settings = {}
    small = Glyphs(folder + "/font16.bin", 16, framebuf)
    large = Glyphs(folder + "/font32.bin", 32, framebuf)
    buf = bytearray(WIDTH * HEIGHT // 8)
    fault = Screens(small, large, settings).draw(
        framebuf.FrameBuffer(buf, WIDTH, HEIGHT, framebuf.MONO_VLSB), screen, text)
    with open(out, "wb") as f:
        f.write(buf)
    print("fault", fault)


main()
