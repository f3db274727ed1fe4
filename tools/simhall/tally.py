"""What became of every rating press of a finished run, keyed by (device, boot, seq):

    seen        made on a pad and stored in its outbox (the pads' ledgers, ledger.py)
    acked       the pad saw the agent's ack (the event left its outbox while powered)
    journaled   a rating record in the agent's journal carrying that `wire` key
    forwarded   such a journal record at or below the center's head (the outbox sent it)
    counted     a rating record among the center's stored records for the hall (read from
                the center's Redis store: the API lists no records)
    lost        acknowledged but not counted (not journaled, when there is no center)
    duplicated  a key counted more than once at the center (journaled more than once, when
                there is no center)

Independent of how the run went (faults or none): it reads the pads, the journal file and
the center's records after the run. `tally()` builds it, `render()` prints it.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.journal import Record

Key = tuple[str, int, int]  # (device, boot, seq) as on the wire
COLUMNS = ("seen", "acked", "journaled", "forwarded", "counted", "lost", "duplicated")


@dataclass(frozen=True)
class PadPresses:
    """One pad's side: what it made and what it saw acknowledged, as (boot, seq)."""

    device: str
    link: str
    seen: Iterable[tuple[int, int]]
    acked: Iterable[tuple[int, int]]


@dataclass
class Tally:
    links: dict[str, str]  # device -> link
    seen: set[Key] = field(default_factory=set)
    acked: set[Key] = field(default_factory=set)
    journaled: Counter[Key] = field(default_factory=Counter)
    forwarded: Counter[Key] = field(default_factory=Counter)
    counted: Counter[Key] | None = None  # None: the run had no center
    center_head: int | None = None

    @property
    def final(self) -> Counter[Key]:
        """Where a press ends up: the center, or the journal when there is none."""
        return self.journaled if self.counted is None else self.counted

    @property
    def lost(self) -> set[Key]:
        return self.acked - set(self.final)

    @property
    def duplicated(self) -> set[Key]:
        return {k for k, n in self.final.items() if n > 1}

    @property
    def unseen(self) -> set[Key]:
        """Counted, yet no pad made it: impossible unless something invents presses."""
        return set(self.final) - self.seen

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.unseen

    def row(self, devices: set[str] | None = None) -> dict[str, int]:
        """The columns over some devices (all when None)."""
        def n(keys: Iterable[Key]) -> int:
            return sum(1 for k in keys if devices is None or k[0] in devices)

        def total(c: Counter[Key]) -> int:
            return sum(v for k, v in c.items() if devices is None or k[0] in devices)

        counted = -1 if self.counted is None else total(self.counted)
        return {"seen": n(self.seen), "acked": n(self.acked),
                "journaled": total(self.journaled), "forwarded": total(self.forwarded),
                "counted": counted, "lost": n(self.lost), "duplicated": n(self.duplicated)}


def tally(pads: Iterable[PadPresses], journal: Path,
          center: Iterable[Record] | None) -> Tally:
    """The run's presses from the pads, the journal file and the center's stored records
    (None: the run had no center)."""
    t = Tally(links={})
    for pad in pads:
        t.links[pad.device] = pad.link
        t.seen |= {(pad.device, b, s) for b, s in pad.seen}
        t.acked |= {(pad.device, b, s) for b, s in pad.acked}
    journaled = list(_ratings(_journal_records(journal)))
    t.journaled = Counter(k for _, k in journaled)
    if center is not None:
        head = 0
        counted: Counter[Key] = Counter()
        for r in center:
            head = max(head, r.seq)
            counted.update(k for _, k in _ratings([(r.seq, r.event)]))
        t.counted, t.center_head = counted, head
        t.forwarded = Counter(k for seq, k in journaled if seq <= head)
    return t


def _journal_records(path: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(db.execute("SELECT seq, event FROM records ORDER BY seq"))
    finally:
        db.close()


def _ratings(records: Iterable[tuple[int, str]]) -> Iterable[tuple[int, Key]]:
    """(seq, wire key) of each rating record that came from a pad."""
    for seq, text in records:
        event = json.loads(text)
        wire = event.get("wire") if isinstance(event, dict) else None
        if event.get("type") == "rating" and isinstance(wire, Mapping):
            yield seq, (str(wire["device"]), int(wire["boot"]), int(wire["seq"]))


def render(t: Tally) -> str:
    """Per pad, per link and in total; the counted column says where it was read."""
    head = f"{'':<14}{'link':<7}" + "".join(f"{c:>11}" for c in COLUMNS)
    lines = [head]

    def line(name: str, link: str, row: Mapping[str, int]) -> str:
        cells = "".join(f"{'-' if row[c] < 0 else row[c]:>11}" for c in COLUMNS)
        return f"{name:<14}{link:<7}{cells}"

    for device in sorted(t.links):
        lines.append(line(device, t.links[device], t.row({device})))
    for link in sorted(set(t.links.values())):
        devices = {d for d, k in t.links.items() if k == link}
        lines.append(line(f"all {link}", link, t.row(devices)))
    lines.append(line("total", "", t.row()))
    where = ("counted: rating records in the center's Redis store for the hall, up to its "
             f"head {t.center_head}" if t.counted is not None
             else "no center in this run: lost and duplicated are against the journal")
    lines.append(where)
    if t.unseen:
        lines.append(f"COUNTED BUT NEVER MADE ON A PAD: {sorted(t.unseen)[:5]}")
    return "\n".join(lines)
