"""The pad's Chinese screens on the MicroPython unix port (-X heapsize=64k): the pad loop's
steady heap while it draws with a 3,000-glyph font (next to the same loop drawing nothing),
what drawing the invite screen allocates, and one glyph lookup's time next to one raw read
of a record.

Run: tools/bench screens   (also part of tools/bench firmware)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge_agent.config import DisplayConfig, load_config
from edge_agent.padfont import SMALL_FILE
from tests.firmware import upy_env
from tools import glyphfile

GLYPHS = 3000
ROOT = Path(__file__).resolve().parent.parent


def big_font(folder: Path) -> None:
    """font16.bin of 3,000 glyphs (ASCII and the first CJK ideographs), font32.bin of the
    large captions, as a hall with many names would have."""
    ascii_text = "".join(chr(c) for c in range(0x20, 0x7F))
    cjk = "".join(chr(0x4E00 + i) for i in range(GLYPHS - len(ascii_text)))
    small = glyphfile.render(ascii_text + cjk, glyphfile.SMALL)
    captions = DisplayConfig().captions()
    large = glyphfile.render("".join(captions[n] for n in glyphfile.LARGE_CAPTIONS),
                             glyphfile.LARGE)
    glyphfile.HallFont(small, large).write(folder)


def figures(proc_out: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in proc_out.splitlines():
        name, _, value = line.partition(" ")
        out[name] = value
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mpy = root / "mpy"
        mpy.mkdir()
        upy_env.compile_all(mpy)
        font = root / "font"
        big_font(font)
        size = (font / SMALL_FILE).stat().st_size
        hall = root / "hall-font"
        sample = load_config(ROOT / "edge_agent" / "samples" / "hall.toml")
        glyphfile.hall_font(glyphfile.HallText.of(sample)).write(hall)
        proc = upy_env.run_micropython(mpy, "bench_screens", root, [str(font), str(hall)])
        if proc.returncode != 0:
            raise SystemExit(f"bench_screens failed: {proc.stdout}{proc.stderr}")
        base = upy_env.run_micropython(mpy, "bench_pad", root / "font")
        if base.returncode != 0:
            raise SystemExit(f"bench_pad failed: {base.stdout}{base.stderr}")
    f = figures(proc.stdout)
    b = figures(base.stdout)
    steady = int(f["heap_steady_total"])
    baseline = int(b["heap_steady_total"])
    print(f"pad screens, unix port, heap {upy_env.HEAPSIZE}: font16.bin {f['glyphs'].split()[0]} "
          f"glyphs ({size / 1024:.0f} KB of flash), font fault {f['font_fault']}")
    print(f"  pad loop drawing every invite: steady heap {steady / 1024:.1f} KB, all of it "
          f"(goal <= 32 KB); the same loop drawing nothing (bench_pad) {baseline / 1024:.1f} KB")
    print(f"  of which the display's code (screens.py, glyphs.py loaded as .mpy) "
          f"{int(f['display_code']) / 1024:.1f} KB; the pad's objects with the display "
          f"{int(f['heap_steady_objects']) / 1024:.1f} KB with {f['glyphs'].split()[0]} glyphs, "
          f"{int(f['hall_heap_steady_objects']) / 1024:.1f} KB with the sample hall's "
          f"{f['hall_glyphs'].split()[0]} (bench_pad without display: "
          f"{int(b['heap_steady_pad']) / 1024:.1f} KB)")
    print(f"  drift over the run {f['heap_steady_drift']} bytes; peak before collection "
          f"{int(f['heap_peak_total']) / 1024:.1f} KB; {f['draws']} draws")
    print(f"  invite screen draw allocates {f['alloc_invite_worst']} bytes at most "
          f"(goal: a few hundred); {f['invite_draw_us']} us per draw on this host")
    found = float(f["lookup_found_us"])
    raw = float(f["record_read_us"])
    print(f"  glyph lookup: {found:.1f} us found, {float(f['lookup_absent_us']):.1f} us absent; "
          f"one raw record read {raw:.1f} us: {found / raw:.1f}x (binary search of "
          f"{f['glyphs'].split()[0]} entries)")


if __name__ == "__main__":
    main()
