"""Entry point on a board: MicroPython runs main.py after boot.py at every reset."""

import json

import app
import micropython
from fs import Fs


def make_board(cfg: dict) -> object:
    name = cfg.get("board")
    if name == "esp32":
        from boards.esp32 import Board
    elif name == "pico_w":
        from boards.pico_w import Board  # type: ignore[assignment]
    else:
        from boards.pico import Board  # type: ignore[assignment]
    return Board(cfg)


def main() -> None:
    fs = Fs()
    try:
        cfg = json.loads(fs.read("config.json") or "{}")
    except ValueError:
        cfg = {}
    board = make_board(cfg if isinstance(cfg, dict) else {})
    if board.maintenance():  # type: ignore[attr-defined]
        return
    # A 0x03 byte inside a frame on USB-CDC must not raise KeyboardInterrupt.
    micropython.kbd_intr(-1)
    app.run(board, fs)  # type: ignore[arg-type]


main()
