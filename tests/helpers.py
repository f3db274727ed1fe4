"""Building timelines and running the replay command the way a user does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_agent.cli import main

DAY = "2026-03-02"  # a Monday outside the summer period
BASE_CONFIG = '[hall]\nid = "test"\n'


def at(clock: str, day: str = DAY) -> str:
    """An ISO time in Asia/Shanghai; clock is HH:MM:SS or HH:MM:SS.ffffff."""
    return f"{day}T{clock}+08:00"


def ev(clock: str, etype: str, counter: str = "A01", day: str = DAY, **fields: Any
       ) -> dict[str, Any]:
    return {"t": at(clock, day), "type": etype, "counter": counter, **fields}


def login(clock: str, staff: str = "S1", counter: str = "A01", **fields: Any) -> dict[str, Any]:
    return ev(clock, "staff_login", counter, staff=staff, **fields)


def press(clock: str, level: str = "satisfied", counter: str = "A01", **fields: Any
          ) -> dict[str, Any]:
    return ev(clock, "rating", counter, level=level, **fields)


def write_timeline(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
                    encoding="utf-8")
    return path


class Runner:
    """Runs ``python -m edge_agent`` in-process, on files in a temporary folder."""

    def __init__(self, tmp: Path, capsys: Any) -> None:
        self.tmp = tmp
        self.capsys = capsys

    def config(self, text: str = BASE_CONFIG) -> Path:
        path = self.tmp / "hall.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def cli(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = main(list(argv))
        out, err = self.capsys.readouterr()
        return status, out, err

    def replay(self, lines: list[dict[str, Any] | str], config: str = BASE_CONFIG,
               month: str = "2026-03") -> dict[str, Any]:
        timeline = write_timeline(self.tmp / "timeline.jsonl", lines)
        status, out, err = self.cli("replay", str(timeline), "--config", str(self.config(config)),
                                    "--month", month)
        assert status == 0, err
        doc: dict[str, Any] = json.loads(out)
        return doc


def reasons(doc: dict[str, Any]) -> list[str]:
    return [d["reason"] for d in doc["decisions"]]


def kinds(doc: dict[str, Any]) -> list[str]:
    return [i["kind"] for i in doc["incidents"]]
