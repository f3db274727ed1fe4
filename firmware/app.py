"""The pad program: boot bookkeeping, self-test, then the main loop. The board object is the
only part that touches hardware (see boards/)."""

import json

import bootstate
import messages as m
import selftest
from fs import Fs
from pad import Pad
from ticks import ticks_diff, ticks_ms

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ports import Board

# A run that lasts this long without a reset counts as a good boot: only then is the boot-loop
# counter cleared and the watchdog started, so a crash early in boot ends in safe mode instead
# of resetting forever.
GOOD_AFTER_MS = 30000
LOOP_MS = 5


def load_config(fs: Fs) -> dict | None:
    text = fs.read("config.json")
    try:
        cfg = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(cfg, dict) or not selftest.config_ok(cfg) or not selftest.key_ok(
        cfg.get("key")
    ):
        return None
    return cfg


def run(board: "Board", fs: Fs) -> None:
    boot, safe = bootstate.begin(fs)
    cfg = load_config(fs)
    if safe or cfg is None:
        board.safe_mode("boot loop" if safe else "bad config.json")
        return
    link = board.link(cfg)
    start = ticks_ms()
    pad = Pad(cfg, board, link, fs, boot, start)
    ok, fail = selftest.run(cfg, fs, board.keys(), board.display_ok(), link is not None)
    pad.event(start, m.SELFTEST, m.selftest(cfg["keys"], ok, fail))
    good = False
    while not board.stopped():
        now = ticks_ms()
        link.step(now)  # MQTT: (re)connect, read the broker, ping; serial: nothing
        pad.step(now)
        if not good and ticks_diff(now, start) >= GOOD_AFTER_MS:
            bootstate.good(fs)
            board.watchdog_start()
            good = True
        if good:
            board.watchdog_feed()
        board.idle(LOOP_MS)
    pad.outbox.flush(ticks_ms(), force=True)
