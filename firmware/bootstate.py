"""Boot counter and boot-loop guard, kept in flash.

The boot counter numbers this run: frames carry it so the agent can tell a fresh sequence
number from a replayed one. `tries` counts boots that did not reach a good state; past
MAX_TRIES the board starts in safe mode instead of the main loop.
"""

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fs import Fs

NAME = "state.json"
MAX_TRIES = 3


def _read(fs: "Fs") -> dict:
    text = fs.read(NAME)
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


def begin(fs: "Fs") -> tuple[int, bool]:
    """Count this boot; returns (boot number, safe mode)."""
    state = _read(fs)
    boot = int(state.get("boot", 0)) % 0xFFFF + 1
    tries = int(state.get("tries", 0)) + 1
    fs.replace(NAME, json.dumps({"boot": boot, "tries": tries}))
    return boot, tries > MAX_TRIES


def good(fs: "Fs") -> None:
    """The run reached a good state: the next boot is not a boot loop."""
    state = _read(fs)
    state["tries"] = 0
    fs.replace(NAME, json.dumps(state))
