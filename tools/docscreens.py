"""Regenerate the screen pictures of docs/screens/ with tools/padscreen (MicroPython port).

    .venv/bin/python -m tools.docscreens

Five screens of a 2-key pad and of a 5-key pad, and the sign's, for the sample hall with a
sample staff member; each PNG at 3x so the pixels are visible on a page.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_agent.pad_render import SCREENS
from tools import padscreen

ROOT = Path(__file__).resolve().parent.parent
HALL = ROOT / "edge_agent" / "samples" / "hall.toml"
OUT = ROOT / "docs" / "screens"
NAME = "张伟"
NUMBER = "1024"
SCALE = 3


def shots() -> list[tuple[str, list[str]]]:
    out = []
    for kind, keys in (("pad", "2"), ("pad", "5"), ("sign", "2")):
        label = f"{kind}{keys}" if kind == "pad" else kind
        for screen in SCREENS:
            out.append((f"{label}-{screen}.png",
                        ["--kind", kind, "--keys", keys, "--screen", screen]))
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    binary = padscreen.micropython()
    if binary is None:
        print("docscreens: no micropython (run tools/bootstrap)", file=sys.stderr)
        return 2
    for name, options in shots():
        status = padscreen.main(["--config", str(HALL), "--counter", "A01", "--text", NAME,
                                 "--number", NUMBER, "--engine", "micropython",
                                 "--scale", str(SCALE), "--out", str(OUT / name), *options])
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
