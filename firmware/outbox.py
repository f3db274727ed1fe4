"""Events not yet acknowledged by the agent, kept in flash across reboots.

Each entry: [boot, seq, type, body, born, age0, flags]. `born` is the tick the entry was made
or loaded; `age0` is the age it already had then. Writes are batched: the file is replaced at
most once per `flush_ms` while something changed, and never while nothing did. An event acked
before its first flush never touches flash.
"""

import json

from messages import AGE_LOWER_BOUND
from ticks import ticks_diff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fs import Fs

NAME = "outbox.json"


class Outbox:
    def __init__(self, fs: "Fs", now: int, cap: int = 64, flush_ms: int = 100) -> None:
        self._fs = fs
        self._cap = cap
        self._flush_ms = flush_ms
        self._dirty_since = -1
        self.entries: list[list] = []
        self.writes = 0
        self.corrupt = False
        self._load(now)
        self._saved = self._ids()

    def _load(self, now: int) -> None:
        text = self._fs.read(NAME)
        if text is None:
            return
        try:
            for boot, seq, kind, body, age, flags in json.loads(text)["e"]:
                entry = [boot, seq, kind, bytes.fromhex(body), now, age, flags | AGE_LOWER_BOUND]
                self.entries.append(entry)
        except (ValueError, KeyError, TypeError):
            self.entries = []
            self.corrupt = True

    def __len__(self) -> int:
        return len(self.entries)

    def room(self) -> int:
        return self._cap - len(self.entries)

    def add(self, now: int, boot: int, seq: int, kind: int, body: bytes) -> bool:
        if self.room() <= 0:
            return False
        self.entries.append([boot, seq, kind, body, now, 0, 0])
        self._touch(now)
        return True

    def head(self) -> list | None:
        return self.entries[0] if self.entries else None

    def ack(self, now: int, boot: int, seq: int) -> bool:
        for i, entry in enumerate(self.entries):
            if entry[0] == boot and entry[1] == seq:
                del self.entries[i]
                self._touch(now)
                return True
        return False

    def _touch(self, now: int) -> None:
        if self._dirty_since < 0:
            self._dirty_since = now

    @staticmethod
    def age(entry: list, now: int) -> int:
        return entry[5] + ticks_diff(now, entry[4])

    def flush(self, now: int, force: bool = False) -> bool:
        """Write the file if it is due; True when it was written."""
        if self._dirty_since < 0:
            return False
        if not force and ticks_diff(now, self._dirty_since) < self._flush_ms:
            return False
        self._dirty_since = -1
        ids = self._ids()
        if ids == self._saved:
            return False  # e.g. an event acked before it was ever written
        rows = [[e[0], e[1], e[2], e[3].hex(), self.age(e, now), e[6]] for e in self.entries]
        self._fs.replace(NAME, json.dumps({"v": 1, "e": rows}))
        self._saved = ids
        self.writes += 1
        return True

    def _ids(self) -> list[tuple[int, int]]:
        return [(e[0], e[1]) for e in self.entries]
