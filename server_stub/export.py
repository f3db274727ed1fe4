"""The month's ratings as the national 好差评 evaluation data set (GB/T 39046-2020 table 9).

One row per **accepted** rating whose press falls in the month (hall's local time), in journal
order. A rejected press (double press, self rating, unbound, already rated, ...) is not an
evaluation of a service, so it is not exported; the monthly report lists those. The ratings
are the center's replay of the hall's chain (:func:`server_stub.reports.replay_month`), the
same replay that scores the month, so the export and the report always agree.

Fields (all strings; formats of table 9, enforced by :data:`FORMATS` on every row):

- 办件编号 (an..50): the ticket as the queue system called it, when it is 1-50 printable ASCII
  characters starting with a letter or digit; otherwise (an anonymous ticket opened by
  请评价 with no queue system, a longer id, spaces, non-ASCII, a leading ``=+-@`` that a
  spreadsheet would run as a formula) a stable derived id: ``W`` and the first 24 hex digits
  (upper case) of SHA-256(hall id, NUL, ticket). Stable: the same journal exports the same ids.
- 评价渠道: 政务大厅其他终端 (a counter's pad; code 5 ``pf`` in the provincial interface).
- 评价人 (a..30): always empty. A pad does not know who pressed it; the ticket's applicant hash
  is a salted hash of the citizen's ID number that would let any reader of the export link one
  citizen's visits, so it never leaves the center (privacy rule: ID numbers never in clear).
- 评价时间: the press, local time, ``YYYYMMDDThhmmss``.
- 评价次数 (n..2): 1 for the first accepted rating of this 办件编号 in the month, 2 for the
  second (a recalled ticket)...; above 99 is an :class:`ExportError` naming the 办件编号.
- 满意度 / 满意度代码 (an..20 / n1): five-level scale 非常满意 5, 满意 4, 基本满意 3, 不满意 2,
  非常不满意 1; the binary scale gives 满意 4 and 不满意 2 (the same words, the same codes).
- 文字评价: empty (pads have keys, no text).
- 行政区划 (n..9): the ``region_code`` given, 1-9 digits, else :class:`ExportError`.

CSV: a header row of the Chinese field names, CRLF rows (RFC 4180), UTF-8 with a byte-order
mark: Excel on a Chinese Windows opens a CSV without one in the ANSI code page (GBK), which
garbles every Chinese field; with the mark it reads UTF-8. Python reads it with ``utf-8-sig``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.journal import Record
from edge_agent.rules.calendar import from_us
from edge_agent.rules.model import Decision, Level, Output
from edge_agent.scoring import month_bounds
from server_stub.reports import MonthReplay, Sink, check_month, replay_month

Replay = Callable[[Sink], MonthReplay]

FIELDS = ("办件编号", "评价渠道", "评价人", "评价时间", "评价次数", "满意度", "满意度代码",
          "文字评价", "行政区划")
CHANNEL = "政务大厅其他终端"
CHANNEL_CODE = 5  # pf in the provincial interface
# level -> (满意度, 满意度代码)
SATISFACTION: dict[str, tuple[str, str]] = {
    Level.VERY_SATISFIED: ("非常满意", "5"), Level.SATISFIED: ("满意", "4"),
    Level.BASIC: ("基本满意", "3"), Level.UNSATISFIED: ("不满意", "2"),
    Level.VERY_UNSATISFIED: ("非常不满意", "1")}
FORMATS = {
    "办件编号": re.compile(r"[0-9A-Za-z][!-~]{0,49}"),
    "评价渠道": re.compile(re.escape(CHANNEL)),
    "评价人": re.compile(r""),
    "评价时间": re.compile(r"\d{8}T\d{6}"),
    "评价次数": re.compile(r"[1-9]\d?"),
    "满意度": re.compile("|".join(name for name, _ in SATISFACTION.values())),
    "满意度代码": re.compile(r"[1-5]"),
    "文字评价": re.compile(r""),
    "行政区划": re.compile(r"\d{1,9}"),
}
ANONYMOUS = "anon:"  # the engine's id for a ticket opened by 请评价 with no queue ticket


class ExportError(ValueError):
    """An export that cannot be made as asked (bad argument, a field out of its format)."""


def haochaping_rows(records: Iterable[Record], config: HallConfig, month: str,
                    region_code: str, replay: Replay | None = None) -> list[dict[str, str]]:
    """The month's accepted ratings of a hall's chain, one table-9 row each."""
    check_month(month)
    if not isinstance(region_code, str) or not FORMATS["行政区划"].fullmatch(region_code):
        raise ExportError(f"region_code (行政区划, n..9) must be 1 to 9 digits, "
                          f"got {region_code!r}")
    start, end = month_bounds(month, config.tz)
    accepted: list[Decision] = []

    def keep(outputs: list[Output]) -> None:
        accepted.extend(o for o in outputs if isinstance(o, Decision) and o.accepted
                        and start <= o.t < end)

    if replay is None:
        replay_month(records, config, month, keep)
    else:  # the center's replay from a checkpoint (records are then ignored)
        replay(keep)
    counts: dict[str, int] = {}
    rows = []
    for d in accepted:
        number = case_number(config.hall_id, d.ticket, d.line)
        counts[number] = counts.get(number, 0) + 1
        rows.append(_row(d, config, number, counts[number], region_code))
    return rows


def case_number(hall_id: str, ticket: str | None, seq: int) -> str:
    """办件编号: the ticket when it fits an..50 safely, else a stable derived id."""
    if ticket is None:  # an accepted rating always has a ticket; named if that ever changes
        raise ExportError(f"journal record {seq}: an accepted rating without a ticket")
    if not ticket.startswith(ANONYMOUS) and FORMATS["办件编号"].fullmatch(ticket):
        return ticket
    digest = hashlib.sha256(f"{hall_id}\x00{ticket}".encode()).hexdigest()
    return "W" + digest[:24].upper()


def _row(d: Decision, config: HallConfig, number: str, count: int,
         region_code: str) -> dict[str, str]:
    if count > 99:
        raise ExportError(f"办件编号 {number}: more than 99 ratings in one month "
                          "(评价次数 is n..2); does the queue system reuse ticket ids?")
    words, code = SATISFACTION[d.level]
    row = {"办件编号": number, "评价渠道": CHANNEL, "评价人": "",
           "评价时间": f"{from_us(d.t, config.tz):%Y%m%dT%H%M%S}", "评价次数": str(count),
           "满意度": words, "满意度代码": code, "文字评价": "", "行政区划": region_code}
    check_row(row, f"journal record {d.line}")
    return row


def check_row(row: Mapping[str, Any], where: str) -> None:
    """Every field present, a string, and within its table-9 format."""
    if not isinstance(row, Mapping) or set(row) != set(FIELDS):
        keys = sorted(row) if isinstance(row, Mapping) else type(row).__name__
        raise ExportError(f"{where}: a row needs exactly the fields {', '.join(FIELDS)}; "
                          f"got {keys}")
    for name in FIELDS:
        value = row[name]
        if not isinstance(value, str) or not FORMATS[name].fullmatch(value):
            raise ExportError(f"{where}: {name} {value!r} is not in its format")


def render_export(rows: Sequence[Mapping[str, str]], fmt: str) -> str:
    """The rows as a JSON array of objects, or as CSV for Excel (see the module's doc)."""
    if fmt not in ("json", "csv"):
        raise ExportError(f"format must be 'json' or 'csv', got {fmt!r}")
    for n, row in enumerate(rows, 1):
        check_row(row, f"row {n}")
    if fmt == "json":
        return json.dumps([{name: row[name] for name in FIELDS} for row in rows],
                          ensure_ascii=False, indent=1) + "\n"
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(FIELDS)
    w.writerows([row[name] for name in FIELDS] for row in rows)
    return buf.getvalue()
