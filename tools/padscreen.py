"""Write the exact pixels a pad or sign shows for one screen, as a PNG.

    python -m tools.padscreen --config hall.toml --screen invite --text 张伟 --number 1024 \\
        --out invite.png

The glyph files are built from the hall file as tools/provision builds them, and the
screen is drawn by the firmware's own code (firmware/screens.py) on the MicroPython unix
port; with --engine cpython (or when no micropython is installed) the same code runs on
CPython with a pure-Python framebuf, which gives the same bytes.

By default the font also holds the characters of --text, as after re-provisioning with
that name in the hall file; --hall-font-only draws with the hall's font as it is, so a
character it lacks shows as the empty box the pad would show.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from edge_agent.config import ConfigError, load_config
from edge_agent.pad_render import FIRMWARE, HEIGHT, SCREENS, WIDTH, PadRenderer, is_lit
from tools import glyphfile

RENDER_SCRIPT = Path(__file__).resolve().parent / "upy" / "render_screen.py"


def micropython() -> str | None:
    beside = Path(sys.executable).parent / "micropython"
    return str(beside) if beside.exists() else shutil.which("micropython")


def render_micropython(binary: str, folder: Path, screen: int, text: str) -> bytes:
    out = folder / "screen.bin"
    proc = subprocess.run(
        [binary, "-X", "heapsize=64k", str(RENDER_SCRIPT), str(folder), str(screen), text,
         str(out)],
        env={"MICROPYPATH": str(FIRMWARE)}, capture_output=True, text=True, timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"micropython failed: {proc.stdout}{proc.stderr}")
    return out.read_bytes()


def render_cpython(folder: Path, screen: int, text: str) -> bytes:
    renderer = PadRenderer(folder)
    try:
        return renderer.render(screen, text)
    finally:
        renderer.close()


def to_png(buf: bytes, out: Path, scale: int = 1) -> None:
    image = Image.new("1", (WIDTH, HEIGHT), 0)
    for y in range(HEIGHT):
        for x in range(WIDTH):
            if is_lit(buf, x, y):
                image.putpixel((x, y), 1)
    if scale > 1:
        image = image.resize((WIDTH * scale, HEIGHT * scale), Image.Resampling.NEAREST)
    image.save(out)


def agent_text(name: str, number: str) -> str:
    """The text of a display command as the agent sends it (edge_agent/service/pad_view.py)."""
    return f"{name}\n{number}" if number else name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.padscreen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path, help="the hall's TOML file")
    parser.add_argument("--screen", required=True, choices=SCREENS)
    parser.add_argument("--text", default="", help="the staff name the agent sends")
    parser.add_argument("--number", default="", help="the staff number (工号) sent with it")
    parser.add_argument("--kind", choices=("pad", "sign"), default="pad")
    parser.add_argument("--keys", type=int, choices=(2, 5), default=2)
    parser.add_argument("--counter", default="", help="counter id (default: the first one)")
    parser.add_argument("--out", required=True, type=Path, help="the PNG to write")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel (default 1)")
    parser.add_argument("--engine", choices=("auto", "micropython", "cpython"), default="auto")
    parser.add_argument("--hall-font-only", action="store_true",
                        help="do not add --text to the font: show what a provisioned pad shows")
    parser.add_argument("--raw", type=Path, help="also write the display's 1024 bytes here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"padscreen: error: {exc}", file=sys.stderr)
        return 2
    counter = args.counter or next(iter(config.counters), "")
    text = agent_text(args.text, args.number)
    extra = "" if args.hall_font_only else text
    hall = glyphfile.HallText.of(config)
    font = glyphfile.hall_font(hall, extra)
    if font.missing():
        print(f"padscreen: the source font lacks {''.join(font.missing())!r}: drawn as boxes",
              file=sys.stderr)
    binary = micropython() if args.engine != "cpython" else None
    if args.engine == "micropython" and binary is None:
        print("padscreen: error: no micropython (tools/bootstrap installs it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        font.write(folder)
        glyphfile.write_display(folder, glyphfile.display_settings(
            hall, args.kind, args.keys, counter))
        screen = SCREENS.index(args.screen)
        buf = (render_micropython(binary, folder, screen, text) if binary
               else render_cpython(folder, screen, text))
    to_png(buf, args.out, args.scale)
    if args.raw:
        args.raw.write_bytes(buf)
    engine = "micropython" if binary else "cpython"
    print(f"{args.out}: {args.kind} {args.screen} ({engine})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
