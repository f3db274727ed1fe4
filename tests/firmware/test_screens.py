"""What a citizen sees: each screen drawn by the firmware's code on the MicroPython unix port,
compared pixel for pixel with the checked-in PNGs of tests/firmware/golden/, and the same
bytes from CPython (the agent's status page and the tools' fallback).

After an intended change of a screen, regenerate the pictures with
``WE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/firmware/test_screens.py`` and look at
them before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from edge_agent.config import load_config
from edge_agent.pad_render import HEIGHT, SCREENS, WIDTH, is_lit
from tools import glyphfile, padscreen

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("WE_UPDATE_GOLDEN") == "1"
RARE = "王喆"  # 喆: in the source font, rarely in any small font
MISSING = "𠮷田"  # 𠮷 (U+20BB7, outside the BMP): not in wqy-microhei, drawn as a box
LONG = "阿卜杜热合曼·买买提明"  # wraps at a character boundary
HALL = f"""
[hall]
id = "golden"
[counters.A01]
name = "不动产登记 1"
[staff.1024]
name = "张伟"
[staff.2048]
name = "{RARE}"
[staff.3001]
name = "{MISSING}"
[staff.30015]
name = "{LONG}"
"""
CASES = [
    *[(f"pad2-{s}", "pad", 2, s, "张伟\n1024") for s in SCREENS],
    *[(f"pad5-{s}", "pad", 5, s, "张伟\n1024") for s in ("invite", "welcome")],
    *[(f"sign-{s}", "sign", 2, s, "张伟\n1024") for s in ("paused", "invite", "closed")],
    ("pad2-invite-rare", "pad", 2, "invite", f"{RARE}\n2048"),
    ("pad2-invite-missing", "pad", 2, "invite", f"{MISSING}\n3001"),
    ("pad2-invite-long", "pad", 2, "invite", f"{LONG}\n30015"),
    ("pad5-invite-long", "pad", 5, "invite", f"{LONG}\n30015"),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Path]:
    """A provisioned folder (fonts and display.json) per kind of device."""
    root = tmp_path_factory.mktemp("screens")
    hall = root / "hall.toml"
    hall.write_text(HALL, encoding="utf-8")
    config = load_config(hall)
    hall_text = glyphfile.HallText.of(config)
    font = glyphfile.hall_font(hall_text)
    assert font.missing() == ["𠮷"]
    out = {}
    for kind, keys in (("pad", 2), ("pad", 5), ("sign", 2)):
        folder = root / f"{kind}{keys}"
        font.write(folder)
        glyphfile.write_display(folder, glyphfile.display_settings(hall_text, kind, keys, "A01"))
        out[kind, keys] = folder
    return out


def _pixels(buf: bytes) -> list[list[int]]:
    return [[int(is_lit(buf, x, y)) for x in range(WIDTH)] for y in range(HEIGHT)]


def _png_pixels(path: Path) -> list[list[int]]:
    image = Image.open(path).convert("1")
    assert image.size == (WIDTH, HEIGHT)
    return [[int(bool(image.getpixel((x, y)))) for x in range(WIDTH)] for y in range(HEIGHT)]


@pytest.mark.parametrize(("name", "kind", "keys", "screen", "text"), CASES,
                         ids=[c[0] for c in CASES])
def test_screen_matches_its_golden_picture_on_both_pythons(
    folders: dict[tuple[str, int], Path], name: str, kind: str, keys: int, screen: str,
    text: str,
) -> None:
    binary = padscreen.micropython()
    assert binary, "no micropython in the venv (tools/bootstrap installs it)"
    folder = folders[kind, keys]
    on_board = padscreen.render_micropython(binary, folder, SCREENS.index(screen), text)
    on_cpython = padscreen.render_cpython(folder, SCREENS.index(screen), text)
    assert on_board == on_cpython, "CPython and MicroPython drew different bytes"
    golden = GOLDEN / f"{name}.png"
    if UPDATE:
        padscreen.to_png(on_board, golden)
    got = _pixels(on_board)
    want = _png_pixels(golden)
    wrong = sum(g != w for gr, wr in zip(got, want, strict=True)
                for g, w in zip(gr, wr, strict=True))
    assert wrong == 0, f"{name}: {wrong} pixels differ from {golden}"
    assert sum(map(sum, got)) > 50  # something is drawn


def test_a_missing_character_is_a_box_and_a_long_name_wraps(
    folders: dict[tuple[str, int], Path],
) -> None:
    folder = folders["pad", 2]
    missing = _pixels(padscreen.render_cpython(folder, SCREENS.index("invite"), f"{MISSING}\n1"))
    # The name line (y 16..31) is centred: 𠮷 (a 16 px box) then 田 (15 px): 31 px wide.
    left = (WIDTH - 31) // 2
    box = [missing[y][left + 1:left + 15] for y in (17, 30)]
    assert all(all(row) for row in box), "the box's top and bottom edges"
    assert not any(missing[24][left + 2:left + 14]), "the box is empty inside"
    long_text = padscreen.render_cpython(folder, SCREENS.index("invite"), f"{LONG}\n30015")
    rows = _pixels(long_text)
    lines = [any(any(row) for row in rows[y:y + 16]) for y in range(0, HEIGHT, 16)]
    assert lines == [True, True, True, True]  # caption, two lines of name, the number


def _font_without(folder: Path, folders: dict[tuple[str, int], Path], lacking: str) -> Path:
    """The 5-key pad's provisioned folder with its small font rebuilt lacking `lacking`."""
    import shutil

    shutil.copytree(folders["pad", 5], folder)
    config = load_config(_hall_file(folder))
    small, large = glyphfile.HallText.of(config).texts()
    kept = "".join(ch for ch in dict.fromkeys(small) if ch not in lacking)
    glyphfile.HallFont(glyphfile.render(kept, glyphfile.SMALL),
                       glyphfile.render(large, glyphfile.LARGE)).write(folder)
    return folder


def _hall_file(folder: Path) -> Path:
    hall = folder / "hall.toml"
    hall.write_text(HALL, encoding="utf-8")
    return hall


def _with_name(folder: Path, name: str) -> bytes:
    return padscreen.render_cpython(folder, SCREENS.index("invite"), f"{name}\n30015")


def test_a_name_too_long_for_its_line_ends_with_an_ellipsis(
    folders: dict[tuple[str, int], Path],
) -> None:
    # The 5-key pad has one line for the name: as many characters as fit beside the …,
    # then the …, drawn exactly as if the agent had sent that shorter name with a …
    folder = folders["pad", 5]
    cut = _with_name(folder, LONG)
    kept = [n for n in range(1, len(LONG)) if _with_name(folder, LONG[:n] + "…") == cut]
    assert kept, "the name drawn is a prefix of it and an ellipsis"
    n = kept[0]
    assert _with_name(folder, LONG[:n]) != cut  # not a silent cut at the same place
    assert _with_name(folder, LONG[:n + 1]) != cut  # nor one character further
    # A name that fits is drawn whole, without an ellipsis.
    assert _with_name(folder, LONG[:n]) != _with_name(folder, LONG[:n - 1] + "…")


def test_a_font_without_the_ellipsis_ends_the_line_with_two_full_stops(
    tmp_path: Path, folders: dict[tuple[str, int], Path],
) -> None:
    folder = _font_without(tmp_path / "no-ellipsis", folders, "…")
    cut = _with_name(folder, LONG)
    assert any(_with_name(folder, LONG[:n] + "..") == cut for n in range(1, len(LONG)))


def test_a_font_without_ellipsis_or_full_stop_still_marks_the_cut(
    tmp_path: Path, folders: dict[tuple[str, int], Path],
) -> None:
    folder = _font_without(tmp_path / "no-dots", folders, "….")
    cut = _pixels(_with_name(folder, LONG))
    # Two 2x2 dots at the foot of the name's line (y 16..31), right of the last character,
    # and nothing else in the 6 columns they take.
    line = [cut[y] for y in range(16, 32)]
    right = max(x for row in line for x in range(WIDTH) if row[x])
    dots = [(y, x) for y in range(16) for x in range(right - 5, right + 1) if line[y][x]]
    assert dots == [(y, x) for y in (13, 14) for x in (right - 5, right - 4, right - 1, right)]


def test_the_hall_file_captions_are_the_pads_defaults() -> None:
    from edge_agent.config import DisplayConfig
    from edge_agent.pad_render import _firmware_module

    assert DisplayConfig().captions() == _firmware_module("screens").CAPTIONS


def test_a_caption_from_the_hall_file_is_drawn(tmp_path: Path) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text('[hall]\nid = "h"\n[display]\nclosed = "未登录"\n', encoding="utf-8")
    config = load_config(hall)
    hall_text = glyphfile.HallText.of(config)
    glyphfile.hall_font(hall_text).write(tmp_path)
    glyphfile.write_display(tmp_path, glyphfile.display_settings(hall_text, "pad", 2, "A01"))
    custom = padscreen.render_cpython(tmp_path, SCREENS.index("closed"), "")
    paused = padscreen.render_cpython(tmp_path, SCREENS.index("paused"), "")
    assert custom != paused  # 未登录 where the default would say 暂停服务, like paused


def test_the_pure_python_framebuf_draws_what_micropythons_does() -> None:
    import subprocess
    import sys

    script = Path(__file__).parent / "framebuf_ops.py"
    binary = padscreen.micropython()
    assert binary
    on_board = subprocess.run([binary, str(script)], capture_output=True, text=True,
                              check=True, timeout=60).stdout
    on_cpython = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                check=True, timeout=60).stdout
    assert on_board.count("\n") == 16
    assert on_cpython == on_board


def test_the_pictures_in_the_docs_are_what_the_pads_draw(tmp_path: Path) -> None:
    from tools import docscreens

    for name, options in docscreens.shots():
        out = tmp_path / name
        assert padscreen.main(["--config", str(docscreens.HALL), "--counter", "A01",
                               "--text", docscreens.NAME, "--number", docscreens.NUMBER,
                               "--engine", "cpython", "--scale", str(docscreens.SCALE),
                               "--out", str(out), *options]) == 0
        got = Image.open(out).convert("1").tobytes()
        want = Image.open(docscreens.OUT / name).convert("1").tobytes()
        assert got == want, f"docs/screens/{name} is stale: run python -m tools.docscreens"
