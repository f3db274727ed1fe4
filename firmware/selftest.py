"""Power-on self-test (岗前三自查: 评价器运行是否正常). The board gathers the facts; this
turns them into the ok/fail masks of the selftest message."""

from messages import (
    CHECK_CONFIG,
    CHECK_DISPLAY,
    CHECK_FLASH,
    CHECK_KEY,
    CHECK_KEYS_RELEASED,
    CHECK_LINK,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fs import Fs

PROBE = "selftest.probe"


def flash_ok(fs: "Fs") -> bool:
    """Write, read back and remove a small file, the way the outbox uses flash."""
    data = "probe-0123456789"
    try:
        fs.replace(PROBE, data)
        back = fs.read(PROBE)
        fs.remove(PROBE)
    except OSError:
        return False
    return back == data


def key_ok(hex_key: object) -> bool:
    if not isinstance(hex_key, str) or len(hex_key) != 64:
        return False
    try:
        bytes.fromhex(hex_key)
    except ValueError:
        return False
    return True


def config_ok(cfg: dict) -> bool:
    address = cfg.get("address")
    return (
        isinstance(address, int)
        and 1 <= address <= 247
        and cfg.get("keys") in (2, 5)
        and cfg.get("link") in ("usb", "rs485", "mqtt")
    )


def masks(checks: list[tuple[int, bool | None]]) -> tuple[int, int]:
    """(ok, fail) from (check bit, passed) pairs; None means not applicable."""
    ok = 0
    fail = 0
    for bit, passed in checks:
        if passed is True:
            ok |= bit
        elif passed is False:
            fail |= bit
    return ok, fail


def run(cfg: dict, fs: "Fs", keys_held: int, display: bool | None, link: bool) -> tuple[int, int]:
    return masks(
        [
            (CHECK_CONFIG, config_ok(cfg)),
            (CHECK_KEY, key_ok(cfg.get("key"))),
            (CHECK_FLASH, flash_ok(fs)),
            (CHECK_KEYS_RELEASED, keys_held == 0),
            (CHECK_DISPLAY, display),
            (CHECK_LINK, link),
        ]
    )
