"""The pad's Chinese screens on the MicroPython unix port (-X heapsize=64k): the pad's steady
heap taken apart (interpreter, firmware code, the pad's objects; the bench's own stand-ins
measured in the same run and left out) while its loop draws with a 3,000-glyph font, what
drawing the invite screen allocates, and one glyph lookup's time next to one raw read of a
record.

The heap is measured for the two ways a board can hold the firmware (docs/display.md):
  romfs  the image `python -m tools.padimage` writes (`mpremote romfs deploy`; a frozen
         build is alike and cheaper still): the code runs from flash, only the modules'
         objects reach the heap. This is the deployment the 32 KB goal is judged on.
         The bench's own modules load from the filesystem, into the heap, as its baseline.
  mpy    the .mpy files on the board's filesystem: each module's code is copied into the
         heap at import. Reported next to it, not judged.
The unix port has no memory-mapped flash, so the ROMFS image is read into the heap first: the
heap is made larger by the image's size (the pad still has its 64 KB) and the image is
measured at once and left out of every figure.

Run: tools/bench screens   (also part of tools/bench firmware)
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from edge_agent.config import DisplayConfig, load_config
from edge_agent.padfont import SMALL_FILE
from tests.firmware import upy_env
from tools import glyphfile, padimage

GLYPHS = 3000
GOAL_KB = 32
HEAP_KB = 64
ROOT = Path(__file__).resolve().parent.parent
# The bench's stand-ins for the board, besides the bench script itself.
HARNESS = ("bench_screens", "fakes", "runner")


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


def launcher(image: Path | None, args: list[str]) -> str:
    """The -c program: measure the bare interpreter, mount the image if any, run the bench."""
    lines = ["import gc, sys", "gc.collect()", "bare = gc.mem_alloc()"]
    if image is not None:
        lines += ["import vfs", f"f = open({str(image)!r}, 'rb')", "img = f.read()",
                  "f.close()", "gc.collect()", "image = gc.mem_alloc() - bare",
                  "vfs.mount(vfs.VfsRom(img), '/rom')", "sys.path.insert(0, '/rom')"]
    else:
        lines += ["image = 0"]
    lines += [f"sys.argv[:] = ['bench_screens'] + {args!r} + ['bare=%d' % bare]",
              "print('image', image)", "import bench_screens"]
    return "\n".join(lines)


def heap_kb(image: Path | None) -> int:
    """The unix port's heap: the board's 64 KB, plus room for the image standing in for
    flash, which the figures leave out."""
    extra = 0 if image is None else (image.stat().st_size + 1023) // 1024
    return HEAP_KB + extra


def run(mpy: Path, scratch: Path, image: Path | None, args: list[str]) -> dict[str, str]:
    proc = subprocess.run(
        [upy_env.MICROPYTHON, "-X", f"heapsize={heap_kb(image)}k", "-c",
         launcher(image, args)],
        cwd=scratch, env=upy_env.env(scratch, MICROPYPATH=str(mpy)),
        capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"bench_screens failed: {proc.stdout}{proc.stderr}")
    return figures(proc.stdout)


def figures(proc_out: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in proc_out.splitlines():
        name, _, value = line.partition(" ")
        out[name] = value
    return out


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def heap_report(tag: str, f: dict[str, str]) -> int:
    """Print one deployment's breakdown; returns the pad's steady heap in bytes."""
    bare = int(f["bare"])
    harness = int(f["start"]) - bare - int(f["image"]) + int(f["harness_imports"])
    code = int(f["code"])
    objects = int(f["objects_steady"])
    pad = bare + code + objects
    biggest = sorted(((int(v), k[5:]) for k, v in f.items() if k.startswith("code.")),
                     reverse=True)[:4]
    print(f"  {tag}: pad's steady heap {kb(pad)} = interpreter {kb(bare)} + firmware code "
          f"{kb(code)} + pad's objects {kb(objects)} (init {kb(int(f['objects_init']))}); "
          f"left out: the bench's stand-ins {kb(harness)}"
          + (f", the ROMFS image read into RAM {kb(int(f['image']))}" if int(f["image"]) else ""))
    print("      code's largest: " + ", ".join(f"{n} {kb(c)}" for c, n in biggest)
          + " (a module that starts a new qstr pool is charged for the pool)")
    print(f"      objects with the sample hall's font {kb(int(f['hall_objects_steady']))}; "
          f"drift {f['drift']} bytes; garbage between collections up to "
          f"{kb(int(f['peak_over_steady']))} (depends on the heap's size)")
    return pad


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mpy = root / "mpy"
        mpy.mkdir()
        upy_env.compile_all(mpy)
        harness = root / "harness"
        harness.mkdir()
        for name in HARNESS:
            (harness / f"{name}.mpy").write_bytes((mpy / f"{name}.mpy").read_bytes())
        image = root / "pad.romfs"
        image.write_bytes(padimage.romfs_image())  # what `python -m tools.padimage` writes
        font = root / "font"
        big_font(font)
        size = (font / SMALL_FILE).stat().st_size
        hall = root / "hall-font"
        sample = load_config(ROOT / "edge_agent" / "samples" / "hall.toml")
        glyphfile.hall_font(glyphfile.HallText.of(sample)).write(hall)
        args = [str(font), str(hall)]
        rom = run(harness, root, image, args)
        files = run(mpy, root, None, [*args, "heap-only"])
    print(f"pad screens, unix port (64-bit), heap {upy_env.HEAPSIZE}: font16.bin "
          f"{rom['glyphs'].split()[0]} glyphs ({size / 1024:.0f} KB of flash), "
          f"font fault {rom['font_fault']}, {rom['draws']} draws in 100 s of pad time")
    judged = heap_report("romfs (judged)", rom)
    loaded = heap_report(".mpy on the filesystem", files)
    verdict = "within" if judged <= GOAL_KB * 1024 else "OVER"
    print(f"  goal <= {GOAL_KB} KB: romfs {kb(judged)} {verdict}; .mpy files {kb(loaded)} "
          f"({loaded / judged:.2f}x romfs)")
    print(f"  invite screen draw allocates {rom['alloc_invite_worst']} bytes at most "
          f"(goal: a few hundred); {rom['invite_draw_us']} us per draw on this host")
    found = float(rom["lookup_found_us"])
    raw = float(rom["record_read_us"])
    print(f"  glyph lookup: {found:.1f} us found, {float(rom['lookup_absent_us']):.1f} us absent; "
          f"one raw record read {raw:.1f} us: {found / raw:.1f}x (binary search of "
          f"{rom['glyphs'].split()[0]} entries)")


if __name__ == "__main__":
    main()
