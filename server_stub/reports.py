"""The center's month reports, re-derived from the journal records a hall sent.

The center runs the edge agent's own replay and scoring (``edge_agent.replay.Replayer``,
``MonthTally``) on a hall's records: no rule is restated here, so the center's score of every
counter and staff member is the agent's replay by construction.

- :func:`month_report`: the JSON that ``python -m edge_agent report --journal J --config C
  --month M --format json`` prints for the same records.
- :func:`replay_month`: the same, plus the incidents behind every deduction (journal record,
  time, kind) and where the replay disagrees with what the journal recorded.
- :func:`render_csv`, :func:`render_html`: the report for a spreadsheet and for people.

Records must be the hall's whole chain from record 1 (or from a checkpoint's record:
:mod:`server_stub.checkpoints`) in sequence order: the rules are a state
machine, so a month's figures depend on what came before it (who was logged in, a pause or an
outage that began the month before); and the chain is checked as it is read. Records of other
months are replayed for that state but not counted. Errors: :class:`ReportQueryError` for a bad
month or argument; ``edge_agent.journal.ChainBroken`` (a missing or rewritten record, named)
and ``edge_agent.timeline.TimelineError`` (a record whose event does not parse, named by seq).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.journal import GENESIS, Record
from edge_agent.replay import JournalReplay, Replayer, journal_events
from edge_agent.report_text import deduction_text
from edge_agent.rules.model import FaultStatus, Incident, IncidentKind, Output, Source
from edge_agent.scoring import Row
from edge_agent.timeline import EventParser, format_time

Sink = Callable[[list[Output]], None]
# One incident behind a deduction: {"seq", "t", "kind", "points", "exempt", "pending",
# "device", "counter", "staff", "faults": [{"ref", "source", "status"}] (the repair records
# covering a device_offline)}.
Evidence = dict[str, Any]
# scope ("counters" | "staff") -> id -> the incidents behind its deductions, in order raised.
EvidenceMap = Mapping[str, Mapping[str, Sequence[Evidence]]]


class ReportQueryError(ValueError):
    """A report asked for with a bad argument (month, scope, report shape)."""


@dataclass
class MonthReplay:
    report: dict[str, Any]  # exactly what month_report returns
    evidence: dict[str, dict[str, list[Evidence]]]
    checked: int = 0  # records whose recorded outcome was compared with the replay
    disagreements: int = 0
    shown: list[str] = field(default_factory=list)  # the first disagreements, by record


def check_month(month: str) -> str:
    if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ReportQueryError(f"month must be YYYY-MM, got {month!r}")
    return month


def replay_month(records: Iterable[Record], config: HallConfig, month: str,
                 sink: Sink | None = None, replayer: Replayer | None = None,
                 start: tuple[int, bytes] = (1, GENESIS)) -> MonthReplay:
    """Replay a hall's chain and score ``month``; ``sink`` sees every output (export).

    ``replayer`` and ``start``: a replayer resumed from a checkpoint (the rules' state after
    record ``start[0] - 1``, whose hash is ``start[1]``), and ``records`` from there."""
    checked = JournalReplay(config, check_month(month), replayer=replayer)
    for item, record in journal_events(records, EventParser(config.scale), start):
        outputs = checked.feed(item, record)
        if sink is not None:
            sink(outputs)
    outputs = checked.finish()
    if sink is not None:
        sink(outputs)
    tally, comparison = checked.replayer.tally, checked.comparison
    evidence = {"counters": _evidence(tally.counters, config),
                "staff": _evidence(tally.staff, config)}
    return MonthReplay(tally.explained(), evidence, comparison.checked,
                       comparison.disagreements, comparison.shown)


def month_report(records: Iterable[Record], config: HallConfig, month: str) -> dict[str, Any]:
    """The month's report of counters and staff with the records behind each deduction."""
    return replay_month(records, config, month).report


def _evidence(rows: Mapping[str, Row], config: HallConfig) -> dict[str, list[Evidence]]:
    return {key: [_incident(i, config) for i in row.incidents]
            for key, row in sorted(rows.items())}


def _incident(i: Incident, config: HallConfig) -> Evidence:
    return {"seq": i.line, "t": format_time(i.t, config.tz), "kind": i.kind,
            "points": i.penalty, "exempt": i.exempt, "pending": i.pending, "device": i.device,
            "counter": i.counter, "staff": i.staff,
            "faults": [{"ref": f.ref, "source": f.source, "status": f.status}
                       for f in i.faults or ()]}


# --- CSV --------------------------------------------------------------------------------

FIGURES = ("volume", "ratings", "satisfied", "base", "standard", "shortfall",
           "shortfall_deduction", "penalties", "score")
SCOPES = {"counter": "counters", "staff": "staff"}


def render_csv(report: Mapping[str, Any], by: str) -> str:
    """One row per counter (``by="counter"``) or staff member (``"staff"``).

    Columns: month, the id, every figure of the report, the deductions as the agent's
    ``report --format csv`` writes them ("kind -points [seq seq ...] exempt:seq ..."), and
    the outages with their repair records (:func:`outage_text`).
    UTF-8 with a BOM so Excel opens it as UTF-8 (see docs/export.md); CRLF rows (RFC 4180).
    """
    rows = _scope(report, by)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(("month", by, *FIGURES, "deductions", "outages"))
    for key, row in rows.items():
        w.writerow((report["month"], key, *(row[f] for f in FIGURES),
                    deduction_text(row["deductions"]), outage_text(row["deductions"])))
    return buf.getvalue()


# An outage's standing and a repair record's status (RULES.md §3), as the hall reads them.
OUTAGE_STATUS = {"exempt": ("已查实 免扣", "verified device fault: exempt"),
                 "pending": ("待核实 暂扣", "deducted until the IT department rules"),
                 "deducted": ("扣分", "deducted")}
FAULT_STATUS: dict[str, tuple[str, str]] = {
    FaultStatus.UNVERIFIED: ("待核实", "awaiting the IT department"),
    FaultStatus.VERIFIED: ("已查实", "verified device fault"),
    FaultStatus.REJECTED: ("非设备故障", "not a device fault")}
FAULT_SOURCES: dict[str, tuple[str, str]] = {
    Source.STAFF: ("工作人员报修", "staff"),
    Source.PAD: ("评价器自检", "pad self-test"),
    Source.IT: ("信息技术科", "IT department")}


def outage_standing(outage: Mapping[str, Any]) -> str:
    """``exempt``, ``pending``, ``rejected`` (deducted: every report ruled not a device
    fault), or ``deducted`` (no report covers it)."""
    status = str(outage["status"])
    faults = outage.get("faults") or []
    if status == "deducted" and faults and all(f["status"] == FaultStatus.REJECTED
                                               for f in faults):
        return "rejected"
    return status


def outage_text(deductions: Iterable[Mapping[str, Any]]) -> str:
    """A row's outages in one CSV cell: "seq device standing [ref source status, ...]"."""
    parts = []
    for d in deductions:
        for outage in d.get("outages", ()):
            faults = ", ".join(f"{f['ref'] or '-'} {f['source']} {f['status']}"
                               for f in outage.get("faults") or ())
            parts.append(f"{outage['line']} {outage['device']} {outage_standing(outage)}"
                         f" [{faults}]")
    return "; ".join(parts)


def _scope(report: Mapping[str, Any], by: str) -> Mapping[str, Any]:
    if by not in SCOPES:
        raise ReportQueryError(f"by must be 'counter' or 'staff', got {by!r}")
    rows = report.get(SCOPES[by]) if isinstance(report, Mapping) else None
    if not isinstance(rows, Mapping) or not isinstance(report.get("month"), str):
        raise ReportQueryError(f"not a month report: it needs 'month' and a '{SCOPES[by]}' table")
    return rows


# --- HTML -------------------------------------------------------------------------------

# Chinese label (what hall managers read) and the English one in small type.
KINDS: dict[str, tuple[str, str]] = {
    IncidentKind.SELF_RATING: ("自我评价", "self rating"),
    IncidentKind.CONSECUTIVE_RATING: ("连续评价", "consecutive rating"),
    IncidentKind.REFUSED_EVALUATION: ("拒绝评议", "refused evaluation"),
    IncidentKind.NOT_PROMPTED: ("未提示评价", "not prompted"),
    IncidentKind.DEVICE_OFFLINE: ("评价器离线", "pad offline"),
    IncidentKind.UNBOUND_RATING: ("无效按键(未绑定办件)", "unbound press"),
    IncidentKind.LEFT_MID_SERVICE: ("办理中途离岗", "left mid-service"),
    IncidentKind.LONG_PAUSE: ("暂停服务超时", "long pause"),
}
COLUMNS = (("volume", "业务量", "volume"), ("ratings", "评价数", "ratings"),
           ("satisfied", "满意数", "satisfied"), ("base", "基础分", "base"),
           ("standard", "标准数", "standard"), ("shortfall", "评价差额", "shortfall"),
           ("shortfall_deduction", "差额扣分", "−shortfall"),
           ("penalties", "事件扣分", "−incidents"), ("score", "得分", "score"))


def render_html(report: Mapping[str, Any], hall_name: str = "",
                evidence: EvidenceMap | None = None,
                counter_names: Mapping[str, str] | None = None) -> str:
    """A self-contained page: the summary, then each counter's and staff member's score with
    every deduction and the journal records behind it.

    ``evidence`` (from :func:`replay_month`) adds each record's time; without it the records
    are listed by sequence number only. ``counter_names``: the hall config's counter names.
    """
    counters, staff = _scope(report, "counter"), _scope(report, "staff")
    names = counter_names or {}
    ev = evidence or {}
    month = str(report["month"])
    title = f"{hall_name} {month} 窗口服务评价月报" if hall_name else f"{month} 窗口服务评价月报"
    parts = [_HEAD.format(title=escape(title), css=_CSS),
             f'<header><h1>{escape(title)}</h1><p class="en">Monthly evaluation report'
             f'{" · " + escape(hall_name) if hall_name else ""} · {escape(month)}</p>'
             '<p class="note">由大厅评价日志重放得出；记录号为日志序号。'
             '<span class="en">Re-derived from the hall\'s journal; record numbers are journal '
             'sequence numbers.</span></p></header>',
             _summary("窗口", "Counters", "counter", counters, names),
             _summary("工作人员", "Staff", "staff", staff, {})]
    parts += [_section("counter", key, row, names.get(key, ""), ev.get("counters", {}).get(key))
              for key, row in counters.items()]
    parts += [_section("staff", key, row, "", ev.get("staff", {}).get(key))
              for key, row in staff.items()]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _label(zh: str, en: str) -> str:
    return f'{escape(zh)}<span class="en">{escape(en)}</span>'


def _num(row: Mapping[str, Any], key: str) -> str:
    value = row[key]
    return f"{value:.2f}" if isinstance(value, float) else escape(str(value))


def _summary(zh: str, en: str, scope: str, rows: Mapping[str, Any],
             names: Mapping[str, str]) -> str:
    cls = "summary last" if scope == "staff" else "summary"  # print: sections on a new page
    if not rows:
        return f'<section class="{cls}"><h2>{_label(zh, en)}</h2><p>无 / none</p></section>'
    head = "".join(f"<th>{_label(z, e)}</th>" for _, z, e in COLUMNS)
    body = []
    for key, row in rows.items():
        name = f' <span class="name">{escape(names[key])}</span>' if names.get(key) else ""
        cells = "".join(f'<td class="n {k}">{_num(row, k)}</td>' for k, _, _ in COLUMNS)
        body.append(f'<tr><th scope="row"><a href="#{scope}-{escape(key)}">{escape(key)}</a>'
                    f"{name}</th>{cells}</tr>")
    return (f'<section class="{cls}"><h2>{_label(zh + "汇总", en)}</h2><table>'
            f"<thead><tr><th>{_label(zh, en)}</th>{head}</tr></thead>"
            f'<tbody>{"".join(body)}</tbody></table></section>')


def _section(scope: str, key: str, row: Mapping[str, Any], name: str,
             evidence: Sequence[Evidence] | None) -> str:
    zh = "窗口" if scope == "counter" else "工作人员"
    title = f"{zh} {key}" + (f" {name}" if name else "")
    figures = "".join(f"<div><dt>{_label(z, e)}</dt><dd>{_num(row, k)}</dd></div>"
                      for k, z, e in COLUMNS[:-1])
    return (f'<section class="unit" id="{scope}-{escape(key)}" data-{scope}="{escape(key)}">'
            f'<h2>{escape(title)}<span class="score">得分 <b data-score>{_num(row, "score")}'
            f'</b><span class="en">score</span></span></h2><dl class="figures">{figures}</dl>'
            f"{_deductions(row, evidence)}</section>")


def _deductions(row: Mapping[str, Any], evidence: Sequence[Evidence] | None) -> str:
    times = {(e["seq"], e["kind"], e["exempt"]): e["t"] for e in evidence or ()}
    lines = [_shortfall_row(row)] if row["shortfall_deduction"] else []
    lines += [_deduction_row(d, times) for d in row["deductions"]]
    if not lines:
        return '<p class="clean">无扣分 <span class="en">no deductions</span></p>'
    return ('<table class="deductions"><thead><tr><th>扣分项<span class="en">deduction</span>'
            '</th><th>扣分<span class="en">points</span></th><th>日志记录（序号 时间）'
            '<span class="en">journal records (seq, time)</span></th></tr></thead>'
            f'<tbody>{"".join(lines)}</tbody></table>')


def _shortfall_row(row: Mapping[str, Any]) -> str:
    return (f'<tr data-kind="shortfall"><th>{_label("评价数不足", "too few ratings")}</th>'
            f'<td class="n">−{row["shortfall_deduction"]}</td><td>标准数 {row["standard"]}，'
            f'评价数 {row["ratings"]}，差 {row["shortfall"]} 件'
            '<span class="en">1 point per started 10 missing, at most 5</span></td></tr>')


def _deduction_row(d: Mapping[str, Any], times: Mapping[tuple[int, str, bool], str]) -> str:
    zh, en = KINDS.get(d["kind"], (d["kind"], ""))
    exempt = pending = ""
    if d["exempt"]:
        exempt = (f'<p class="exempt">免扣 {d["exempt"]} 次（经信息技术科查实属评价器故障，'
                  '不予扣分）'
                  '<span class="en">exempt: verified device fault</span></p>'
                  f'{_records(d["exempt_lines"], d["kind"], True, times)}')
    if d.get("pending"):
        pending = (f'<p class="pending">其中 {d["pending"]} 次待核实（已报修，信息技术科尚未查实，'
                   '暂扣分）<span class="en">of these, pending: reported, deducted until the IT '
                   'department rules</span></p>')
    points = (f'<td class="n">−{d["points"]:.2f}</td>' if d["points"] else
              '<td class="n zero">0<span class="en">不扣分 · for review</span></td>')
    return (f'<tr data-kind="{escape(d["kind"])}"><th>{_label(zh, en)}'
            f'<span class="count">×{d["count"]}</span></th>{points}'
            f'<td>{_records(d["lines"], d["kind"], False, times)}{pending}{exempt}'
            f'{_outages(d.get("outages") or (), times)}</td></tr>')


def _outages(outages: Sequence[Mapping[str, Any]],
             times: Mapping[tuple[int, str, bool], str]) -> str:
    """Each outage with its standing and the repair records (报修) that cover it."""
    if not outages:
        return ""
    rows = []
    for outage in outages:
        standing = outage_standing(outage)
        zh, en = (("非设备故障 扣分", "not a device fault: deducted") if standing == "rejected"
                  else OUTAGE_STATUS.get(standing, (standing, "")))
        if standing == "deducted":
            zh, en = "未报修 扣分", "no fault report: deducted"
        t = times.get((outage["line"], "device_offline", standing == "exempt"))
        when = f" {datetime.fromisoformat(t):%m-%d %H:%M}" if t else ""
        faults = "".join(_fault(f) for f in outage.get("faults") or ()) or "—"
        rows.append(f'<tr class="outage {escape(standing)}" data-outage="{int(outage["line"])}">'
                    f'<td>#{int(outage["line"])}{escape(when)} {escape(str(outage["device"]))}'
                    f'</td><td class="standing">{_label(zh, en)}</td><td>{faults}</td></tr>')
    return ('<table class="outages"><thead><tr><th>停机<span class="en">outage</span></th>'
            '<th>结论<span class="en">standing</span></th><th>报修记录<span class="en">repair '
            f'records</span></th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _fault(f: Mapping[str, Any]) -> str:
    status = str(f["status"])
    zh, en = FAULT_STATUS.get(status, (status, ""))
    source = FAULT_SOURCES.get(str(f["source"]), (str(f["source"]), ""))[0]
    return (f'<p class="fault {escape(status)}" data-ref="{escape(str(f["ref"] or ""))}">'
            f'{escape(str(f["ref"] or "（无编号）"))} · {escape(source)} · <b>{escape(zh)}</b>'
            f'<span class="en">{escape(en)}</span></p>')


def _records(seqs: Sequence[int], kind: str, exempt: bool,
             times: Mapping[tuple[int, str, bool], str]) -> str:
    if not seqs:
        return ""
    items, timed = [], False
    for seq in seqs:
        t = times.get((seq, kind, exempt))
        when = ""
        if t is not None:
            moment = datetime.fromisoformat(t)
            when = f' <time datetime="{escape(t)}">{moment:%m-%d %H:%M:%S}</time>'
            timed = True
        items.append(f'<li data-seq="{int(seq)}">#{int(seq)}{when}</li>')
    cls = "records" + " exempt" * exempt + " timed" * timed
    return f'<ol class="{cls}">{"".join(items)}</ol>'


_HEAD = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head><body>"""

_CSS = """
:root { --ink: #1b1f24; --muted: #5b6570; --line: #d5dbe1; --bad: #a4262c; --ok: #2e6b30; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px; color: var(--ink); font: 15px/1.5
  "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
  "WenQuanYi Micro Hei", sans-serif; }
h1 { font-size: 24px; margin: 0; }
h2 { font-size: 18px; margin: 0 0 8px; display: flex; align-items: baseline; gap: 12px; }
.en { display: block; font-size: 11px; font-weight: normal; color: var(--muted); }
h1 + .en, h2 .en { display: inline; margin-left: 6px; }
.note { color: var(--muted); font-size: 13px; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 16px; padding-bottom: 8px; }
section { margin: 0 0 20px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 1.5px solid var(--ink); font-size: 13px; }
.summary td.n, .summary thead th:not(:first-child) { text-align: right; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.score { font-weight: bold; }
.name { color: var(--muted); font-weight: normal; }
.unit { border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px;
  break-inside: avoid-page; }
.score { margin-left: auto; font-size: 16px; }
.score b { font-size: 22px; }
.figures { display: grid; grid-template-columns: repeat(8, 1fr); gap: 4px 12px; margin: 0 0 10px; }
.figures div { margin: 0; } dt { font-size: 12px; color: var(--muted); } dd { margin: 0; }
.deductions th:first-child { width: 22%; } .deductions td.n { width: 8%; color: var(--bad); }
.deductions td.zero { color: var(--muted); }
.count { margin-left: 6px; font-weight: normal; }
ol.records { list-style: none; margin: 0; padding: 0; display: grid; gap: 2px 6px;
  grid-template-columns: repeat(auto-fill, minmax(5em, 1fr));
  font-size: 12px; font-variant-numeric: tabular-nums; }
ol.records.timed { grid-template-columns: repeat(auto-fill, minmax(12em, 1fr)); }
ol.records li { border: 1px solid var(--line); border-radius: 3px; padding: 0 4px;
  white-space: nowrap; }
ol.records time { color: var(--muted); }
ol.records.exempt li { border-style: dashed; color: var(--muted); }
.exempt { color: var(--ok); margin: 4px 0 2px; font-size: 13px; }
.pending { color: #9a6700; margin: 4px 0 2px; font-size: 13px; }
table.outages { margin-top: 6px; font-size: 12px; }
table.outages td { padding: 2px 4px; }
tr.outage.pending .standing { color: #9a6700; font-weight: bold; }
tr.outage.exempt .standing { color: var(--ok); }
tr.outage.rejected .standing, tr.outage.deducted .standing { color: var(--bad); }
p.fault { margin: 0; } p.fault.unverified b { color: #9a6700; }
p.fault.verified b { color: var(--ok); } p.fault.rejected b { color: var(--bad); }
.clean { color: var(--ok); margin: 0; }
a { color: inherit; }
@media (max-width: 800px) { .figures { grid-template-columns: repeat(4, 1fr); } }
@media print {
  @page { size: A4; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  .unit { border: none; border-top: 1.5px solid var(--ink); border-radius: 0; padding: 8px 0; }
  .summary.last { break-after: page; }
  a { text-decoration: none; }
  ol.records li { border-color: #999; }
}
"""
