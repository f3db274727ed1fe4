"""The console's pages as HTML text: Chinese first, English beside it in small type.

Every value that comes from a person or a journal (names, notes, tickets, reasons) goes
through :func:`h` (``html.escape``): a staff name ``<script>`` is shown, never run.
No script at all; one stylesheet (``/console.css``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from server_stub.accounts import User
from server_stub.followup import BAD_LEVELS, OUTCOMES, Case
from server_stub.reports import COLUMNS, KINDS

ROLE_NAMES = {"manager": ("管理科", "manager"), "it": ("信息技术科", "IT department"),
              "staff": ("窗口工作人员", "counter staff"), "viewer": ("省级查看", "viewer")}


def h(value: object) -> str:
    return escape(str(value), quote=True)


def zh_en(zh: str, en: str) -> str:
    return f"{h(zh)} <small>{h(en)}</small>"


def page(title: tuple[str, str], body: str, user: User | None = None,
         csrf: str | None = None) -> str:
    top = ""
    if user is not None:
        role = ROLE_NAMES[user.role]
        links = ['<a href="/">总览 <small>overview</small></a>']
        if user.role == "manager":
            links.append('<a href="/audit">审计日志 <small>audit log</small></a>')
        top = (f'<nav class="top">{" ".join(links)}<span class="who">{h(user.name)} · '
               f'{zh_en(*role)}</span><form method="post" action="/logout" class="inline">'
               f'{csrf_field(csrf)}<button type="submit">退出 <small>log out</small></button>'
               "</form></nav>")
    return ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{h(title[0])} · 窗口服务评价管理台</title>"
            '<link rel="stylesheet" href="/console.css"></head><body>'
            f'{top}<header><h1>{zh_en(*title)}</h1></header><main>{body}</main>'
            '<footer>窗口服务评价管理台 <small>window evaluation · center console</small>'
            "</footer></body></html>\n")


def csrf_field(token: str | None) -> str:
    return f'<input type="hidden" name="csrf" value="{h(token or "")}">'


def error_page(status: int, zh: str, en: str, user: User | None = None,
               csrf: str | None = None) -> str:
    body = (f'<p class="error" data-status="{status}">{h(zh)}<br><small>{h(en)}</small></p>'
            '<p><a href="/">返回总览 <small>back to the overview</small></a></p>')
    return page((f"{status} 无法显示", "cannot be shown"), body, user, csrf)


# --- login --------------------------------------------------------------------------------

def login_page(csrf: str, error: tuple[str, str] | None = None, name: str = "") -> str:
    message = f'<p class="error" role="alert">{zh_en(*error)}</p>' if error else ""
    body = (f'{message}<form method="post" action="/login" class="login">{csrf_field(csrf)}'
            '<label>用户名 <small>user name</small>'
            f'<input name="username" autocomplete="username" required value="{h(name)}">'
            '</label><label>密码 <small>password</small><input name="password" '
            'type="password" autocomplete="current-password" required></label>'
            '<button type="submit">登录 <small>log in</small></button></form>'
            '<p class="note">连续 5 次登录失败，该用户名锁定 15 分钟。'
            "<small>Five failed logins lock the name for 15 minutes.</small></p>")
    return page(("登录", "log in"), body)


# --- overview -----------------------------------------------------------------------------

def overview(user: User, halls: Sequence[Mapping[str, Any]], month: str,
             csrf: str) -> str:
    parts = []
    for hall in halls:
        hid = hall["id"]
        links = _hall_links(user, hid, month)
        rows = "".join(
            f'<tr data-counter="{h(c)}"><th scope="row">{h(c)} <span class="name">'
            f'{h(f["name"])}</span></th><td class="n">{f["tickets"]}</td>'
            f'<td class="n">{f["ratings"]}</td><td class="n">{f["accepted"]}</td>'
            f'<td class="n">{f["satisfied"]}</td><td class="n">{_rate(f["rate"])}</td>'
            f'<td class="n">{f["incidents"]}</td></tr>'
            for c, f in hall["counters"].items())
        table = ('<table><thead><tr><th>窗口 <small>counter</small></th>'
                 '<th>办件 <small>tickets</small></th><th>评价 <small>ratings</small></th>'
                 '<th>有效 <small>accepted</small></th><th>满意 <small>satisfied</small></th>'
                 '<th>满意率 <small>rate</small></th><th>事件 <small>incidents</small></th>'
                 f"</tr></thead><tbody>{rows}</tbody></table>" if rows else
                 '<p class="note">今日暂无记录 <small>no records today</small></p>')
        if user.role == "it":  # the repair queue is theirs, not the counters' figures
            table = ""
        parts.append(f'<section class="hall" data-hall="{h(hid)}"><h2>大厅 {h(hid)} '
                     f'<small>hall</small></h2><p class="note">日志序号 <small>journal seq'
                     f'</small> {hall["seq"]} · 最近记录 <small>last record</small> '
                     f'{h(hall["last"] or "—")} · 今日 <small>today</small> '
                     f'{h(hall["day"])}</p>{links}{table}</section>')
    if not parts:
        parts.append('<p class="note">没有可查看的大厅 <small>no halls</small></p>')
    return page(("总览", "halls overview"), "".join(parts), user, csrf)


def _hall_links(user: User, hall: str, month: str) -> str:
    base = f"/halls/{h(hall)}"
    links = []
    if user.role in ("manager", "viewer"):
        links.append(f'<a href="{base}/months/{month}">{zh_en("月报", "month report")}</a>')
    if user.role == "manager":
        links.append(f'<a href="{base}/followups?month={month}">'
                     f'{zh_en("差评回访", "bad-rating follow-up")}</a>')
    if user.role in ("it", "manager"):
        links.append(f'<a href="{base}/repairs">{zh_en("报修处理", "repair queue")}</a>')
    return f'<p class="links">{" · ".join(links)}</p>'


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


# --- month report -------------------------------------------------------------------------

FILES = (("report.json", "月报 JSON", "report JSON"),
         ("report-counters.csv", "窗口 CSV", "counters CSV"),
         ("report-staff.csv", "工作人员 CSV", "staff CSV"),
         ("report.html", "月报网页", "report page"),
         ("export.json", "好差评 JSON", "好差评 JSON"),
         ("export.csv", "好差评 CSV", "好差评 CSV"))


def month_page(user: User, hall: str, month: str, report: Mapping[str, Any],
               counter_names: Mapping[str, str], csrf: str) -> str:
    base = f"/halls/{h(hall)}/months/{h(month)}"
    picker = (f'<form method="get" action="/halls/{h(hall)}/months" class="inline">'
              f'<label>月份 <small>month</small> <input name="month" value="{h(month)}" '
              'pattern="\\d{4}-\\d{2}" size="8"></label> <button>查看 <small>show</small>'
              "</button></form>")
    files = " · ".join(f'<a href="{base}/files/{name}" download>{zh_en(zh, en)}</a>'
                       for name, zh, en in FILES)
    body = (f'{picker}<p class="links">下载 <small>downloads</small>: {files}</p>'
            f'{_hall_links(user, hall, month)}'
            f'{_summary("窗口", "counters", base + "/counters", report["counters"], counter_names)}'
            f'{_summary("工作人员", "staff", base + "/staff", report["staff"], {})}')
    return page((f"大厅 {hall} {month} 月报", "month report"), body, user, csrf)


def _summary(zh: str, en: str, link: str, rows: Mapping[str, Any],
             names: Mapping[str, str]) -> str:
    if not rows:
        return f"<section><h2>{zh_en(zh, en)}</h2><p>无 <small>none</small></p></section>"
    head = "".join(f"<th>{zh_en(z, e)}</th>" for _, z, e in COLUMNS)
    body = []
    for key, row in rows.items():
        name = f' <span class="name">{h(names[key])}</span>' if names.get(key) else ""
        cells = "".join(f'<td class="n {k}">{_num(row[k])}</td>' for k, _, _ in COLUMNS)
        body.append(f'<tr data-id="{h(key)}"><th scope="row"><a href="{link}/{h(key)}">'
                    f"{h(key)}</a>{name}</th>{cells}</tr>")
    return (f'<section class="summary" data-scope="{en}"><h2>{zh_en(zh, en)}</h2><table>'
            f"<thead><tr><th>{zh_en(zh, en)}</th>{head}</tr></thead>"
            f'<tbody>{"".join(body)}</tbody></table></section>')


def _num(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else h(value)


def unit_page(user: User, hall: str, month: str, scope: str, key: str,
              row: Mapping[str, Any], evidence: Sequence[Mapping[str, Any]],
              records: Mapping[int, tuple[int, str, str, str]], tz: ZoneInfo,
              csrf: str) -> str:
    """One counter's or staff member's month: its figures, every deduction, and each journal
    record behind it (its time, kind and event as journaled)."""
    zh = "窗口" if scope == "counter" else "工作人员"
    figures = "".join(f"<div><dt>{zh_en(z, e)}</dt><dd data-figure=\"{k}\">{_num(row[k])}"
                      "</dd></div>" for k, z, e in COLUMNS)
    deductions = "".join(_deduction(d) for d in row["deductions"])
    shortfall = ""
    if row["shortfall_deduction"]:
        shortfall = (f'<p class="shortfall">评价数不足 <small>too few ratings</small>: 标准数 '
                     f'{h(row["standard"])}，评价数 {h(row["ratings"])}，扣 '
                     f'{h(row["shortfall_deduction"])} 分</p>')
    items = "".join(_evidence_row(e, records.get(int(e["seq"])), tz) for e in evidence)
    table = ('<table class="evidence"><thead><tr><th>日志序号 <small>seq</small></th>'
             '<th>时间 <small>time</small></th><th>事件 <small>incident</small></th>'
             '<th>扣分 <small>points</small></th><th>状态 <small>status</small></th>'
             '<th>日志记录 <small>journal record</small></th></tr></thead>'
             f"<tbody>{items}</tbody></table>" if items else
             '<p class="clean">无扣分事件 <small>no incidents</small></p>')
    back = f'<p><a href="/halls/{h(hall)}/months/{h(month)}">← 月报 <small>month report' \
           '</small></a></p>' if user.role != "staff" else ""
    body = (f'{back}<dl class="figures">{figures}</dl>{shortfall}'
            f'<section><h2>{zh_en("扣分项", "deductions")}</h2>'
            f'<ul class="deductions">{deductions or "<li>无 <small>none</small></li>"}</ul>'
            f'</section><section><h2>{zh_en("事件与日志记录", "incidents and their records")}'
            f"</h2>{table}</section>")
    return page((f"{zh} {key} · {month}", f"{scope} {key}"), body, user, csrf)


def _deduction(d: Mapping[str, Any]) -> str:
    zh, en = KINDS.get(d["kind"], (d["kind"], ""))
    exempt = f'，免扣 {h(d["exempt"])} 次 <small>exempt</small>' if d.get("exempt") else ""
    return (f'<li data-kind="{h(d["kind"])}">{zh_en(zh, en)} ×{h(d["count"])}：'
            f'−{_num(d["points"])}{exempt}</li>')


def _evidence_row(e: Mapping[str, Any], record: tuple[int, str, str, str] | None,
                  tz: ZoneInfo) -> str:
    zh, en = KINDS.get(e["kind"], (e["kind"], ""))
    status = _status(e)
    shown = "—"
    if record is not None:
        t_us, kind, event, _ = record
        shown = (f'<code>{h(kind)}</code> <time>{_clock(t_us, tz)}</time>'
                 f'<pre>{h(_pretty(event))}</pre>')
    return (f'<tr data-seq="{h(e["seq"])}" data-status="{status[0]}"><td>#{h(e["seq"])}</td>'
            f'<td>{h(e["t"])}</td><td>{zh_en(zh, en)}'
            f'{" · " + h(e["device"]) if e.get("device") else ""}</td>'
            f'<td class="n">{_points(e)}</td><td class="{status[0]}">{status[1]}</td>'
            f"<td>{shown}</td></tr>")


def _points(e: Mapping[str, Any]) -> str:
    """An exempt incident's points struck through: they are not deducted."""
    return f"<s>{_num(e['points'])}</s>" if e.get("exempt") else _num(e["points"])


def _status(e: Mapping[str, Any]) -> tuple[str, str]:
    if e.get("exempt"):
        return "exempt", zh_en("免扣", "exempt")
    if e.get("pending"):
        return "pending", zh_en("待核实", "pending a ruling")
    return "deducted", zh_en("扣分", "deducted")


def _pretty(event: str) -> str:
    try:
        return json.dumps(json.loads(event), ensure_ascii=False)
    except ValueError:
        return event


def _clock(t_us: int, tz: ZoneInfo) -> str:
    return f"{datetime.fromtimestamp(t_us / 1e6, UTC).astimezone(tz):%Y-%m-%d %H:%M:%S}"


# --- follow-up ----------------------------------------------------------------------------

def followups_page(user: User, hall: str, month: str, found: Sequence[Case], today: date,
                   tz: ZoneInfo, csrf: str, error: str = "") -> str:
    base = f"/halls/{h(hall)}/followups"
    rows = "".join(_case_row(c, base, month, today, tz, csrf) for c in found)
    message = f'<p class="error" role="alert">{h(error)}</p>' if error else ""
    open_count = sum(not c.closed for c in found)
    late = sum(c.overdue(today) for c in found)
    body = (f'{message}<form method="get" action="{base}" class="inline"><label>月份 <small>'
            f'month</small> <input name="month" value="{h(month)}" size="8"></label> '
            '<button>查看 <small>show</small></button></form>'
            f'<p class="links"><a href="{base}.csv?month={h(month)}" download>'
            f'{zh_en("导出 CSV", "export CSV")}</a></p>'
            f'<p class="note">{len(found)} 件，未结 <small>open</small> {open_count}，'
            f'逾期 <small>overdue</small> <span class="overdue-count">{late}</span></p>'
            '<table class="cases"><thead><tr><th>记录 <small>case</small></th>'
            '<th>时间 <small>time</small></th><th>窗口 <small>counter</small></th>'
            '<th>工作人员 <small>staff</small></th><th>办件编号 <small>ticket</small></th>'
            '<th>评价 <small>rating</small></th><th>回访期限 <small>due</small></th>'
            f'<th>回访 <small>follow-up</small></th></tr></thead><tbody>{rows}</tbody></table>')
    return page((f"大厅 {hall} {month} 差评回访", "bad-rating follow-up"), body, user, csrf)


def _case_row(c: Case, base: str, month: str, today: date, tz: ZoneInfo, csrf: str) -> str:
    cls = "closed" if c.closed else "overdue" if c.overdue(today) else "open"
    late = " 逾期 <small>overdue</small>" if c.overdue(today) else ""
    zh, en = BAD_LEVELS[c.level]
    state = c.state
    if c.closed:
        outcome = OUTCOMES.get(state.get("outcome", ""), ("", ""))
        action = (f'<span class="closed">已结案 <small>closed</small></span> '
                  f'{zh_en(*outcome)} · {"已联系" if state.get("contacted") else "未联系"} · '
                  f'<span class="note-text">{h(state.get("note", ""))}</span> · '
                  f'{h(state.get("by", ""))}')
    else:
        options = "".join(f'<option value="{k}"{" selected" * (state.get("outcome") == k)}>'
                          f"{h(z)} / {h(e)}</option>" for k, (z, e) in OUTCOMES.items())
        checked = " checked" if state.get("contacted") else ""
        saved = (f'<span class="note-text">{h(state.get("note", ""))}</span>'
                 if state.get("note") else "")
        action = (f'<form method="post" action="{base}/{c.seq}" class="case">'
                  f'{csrf_field(csrf)}<input type="hidden" name="month" value="{h(month)}">'
                  f'<label><input type="checkbox" name="contacted" value="yes"{checked}> '
                  '已联系 <small>contacted</small></label> <select name="outcome" '
                  f'aria-label="outcome">{options}</select> <input name="note" '
                  f'placeholder="备注 note" maxlength="1000" value="{h(state.get("note", ""))}">'
                  ' <button name="action" value="save">保存 <small>save</small></button> '
                  '<button name="action" value="close">结案 <small>close</small></button>'
                  f"</form>{saved}")
    return (f'<tr class="{cls}" data-case="{c.seq}"><td>#{c.seq}</td>'
            f"<td>{_clock(c.t_us, tz)}</td><td>{h(c.counter)}</td><td>{h(c.staff or '—')}</td>"
            f"<td>{h(c.ticket)}</td><td>{zh_en(zh, en)}</td>"
            f'<td class="due">{c.due.isoformat()}{late}</td><td>{action}</td></tr>')


# --- repair queue -------------------------------------------------------------------------

STATUS_NAMES = {"unverified": ("待核实", "unverified"), "verified": ("已查实·设备故障",
                                                                 "verified: device fault"),
                "rejected": ("非设备故障", "rejected: not a device fault")}
SOURCE_NAMES = {"staff": ("窗口报修", "staff"), "pad": ("评价器自检", "pad self-test"),
                "it": ("信息技术科", "IT department")}


def repairs_page(user: User, hall: str, records: Sequence[Mapping[str, Any]],
                 outages: Sequence[Mapping[str, Any]], tz: ZoneInfo, csrf: str,
                 error: str = "", can_rule: bool = False) -> str:
    """The repair queue: every repair record (newest first) with its rulings and the month's
    pad outages of its device; for the IT department, a ruling form on each record and a
    form to file a record."""
    message = f'<p class="error" role="alert">{h(error)}</p>' if error else ""
    rows = "".join(_fault_row(r, hall, covered_by(r, outages), tz, csrf, can_rule)
                   for r in records)
    table = ('<table class="faults"><thead><tr><th>报修记录 <small>record</small></th>'
             '<th>设备 <small>device</small></th><th>报修时间 <small>filed</small></th>'
             '<th>来源 <small>source</small></th><th>原因 <small>reason</small></th>'
             '<th>状态 <small>status</small></th><th>本月离线 <small>outages this month'
             '</small></th><th>裁定 <small>ruling</small></th></tr>'
             f"</thead><tbody>{rows}</tbody></table>" if rows else
             '<p class="note">暂无报修记录 <small>no repair records</small></p>')
    file_form = ""
    if can_rule:
        file_form = (f'<section><h2>{zh_en("登记报修", "file a repair record")}</h2>'
                     f'<form method="post" action="/halls/{h(hall)}/repairs/faults" '
                     f'class="file">{csrf_field(csrf)}<label>设备 <small>device</small> '
                     '<input name="device" required maxlength="32"></label> <label>原因 '
                     '<small>reason</small> <input name="reason" maxlength="500"></label> '
                     '<select name="active" aria-label="active"><option value="yes">故障 / '
                     'fault</option><option value="no">已修复 / cleared</option></select> '
                     '<button>登记 <small>file</small></button></form></section>')
    body = (f"{message}<section><h2>{zh_en('报修记录', 'repair records')}</h2>{table}"
            f"</section>{file_form}")
    return page((f"大厅 {hall} 报修处理", "repair queue"), body, user, csrf)


def covered_by(record: Mapping[str, Any], outages: Sequence[Mapping[str, Any]]
               ) -> list[Mapping[str, Any]]:
    """The outages a repair record covers: those whose covering records name its ref, or,
    for an outage whose records carry no ref (journaled before refs), those of its device."""
    found = []
    for o in outages:
        refs = {f.get("ref") for f in o.get("faults") or ()} - {None}
        if record.get("ref") in refs or (not refs and o.get("device") == record.get("device")):
            found.append(o)
    return found


def _fault_row(r: Mapping[str, Any], hall: str, outages: Sequence[Mapping[str, Any]],
               tz: ZoneInfo, csrf: str, can_rule: bool) -> str:
    status = str(r.get("status", "unverified"))
    ruling = ""
    if can_rule:
        ruling = (f'<form method="post" action="/halls/{h(hall)}/repairs/rulings" '
                  f'class="ruling">{csrf_field(csrf)}'
                  f'<input type="hidden" name="device" value="{h(r.get("device", ""))}">'
                  f'<input type="hidden" name="ref" value="{h(r.get("ref", ""))}">'
                  '<input name="note" placeholder="说明 note" maxlength="500"> '
                  '<button name="verdict" value="device_fault">设备故障 <small>device fault'
                  '</small></button> <button name="verdict" value="not_device_fault">'
                  "非设备故障 <small>not a device fault</small></button></form>")
    notes = "".join(f'<div class="ruled">{zh_en(*_verdict(x.get("verdict")))} · '
                    f'{h(x.get("filed_by", ""))} · {_when(x, tz)} · '
                    f'<span class="note-text">{h(x.get("note", ""))}</span></div>'
                    for x in r.get("rulings", ()))
    when = _clock(int(r["t_us"]), tz) if r.get("t_us") else "—"
    covered = "".join(f'<li data-seq="{h(o["seq"])}" data-status="{_status(o)[0]}" '
                      f'data-counted="{int(o.get("counted_s", 0))}">#{h(o["seq"])} '
                      f'{_clock(_us(o["t"]), tz)} · {h(o["counter"])} · 计入 <small>counted'
                      f'</small> {_duration(o)} · <span class="{_status(o)[0]}">'
                      f"{_status(o)[1]}</span></li>" for o in outages)
    source = SOURCE_NAMES.get(str(r.get("source")), (str(r.get("source", "")), ""))
    state = STATUS_NAMES.get(status, (status, ""))
    opened = "" if r.get("open", True) else " · 已修复 <small>cleared</small>"
    return (f'<tr data-ref="{h(r.get("ref"))}" data-status="{h(status)}" '
            f'data-device="{h(r.get("device", ""))}" data-t-us="{int(r.get("t_us") or 0)}">'
            f'<td>{h(r.get("ref"))}</td><td>{h(r.get("device", ""))}</td><td>{h(when)}</td>'
            f'<td>{zh_en(*source)}<br><small>{h(r.get("filed_by", ""))}</small></td>'
            f'<td>{h(r.get("reason", ""))}</td><td class="{h(status)}">{zh_en(*state)}{opened}'
            f'</td><td><ul class="covered">{covered}</ul></td><td>{notes}{ruling}</td></tr>')


def _us(iso: object) -> int:
    return int(datetime.fromisoformat(str(iso)).timestamp() * 1_000_000)


def _duration(o: Mapping[str, Any]) -> str:
    seconds = int(o.get("counted_s", 0))
    text = f"{seconds // 3600}:{seconds // 60 % 60:02d}"
    return text + (" 未恢复 <small>ongoing</small>" if o.get("ongoing") else "")


def _when(x: Mapping[str, Any], tz: ZoneInfo) -> str:
    return _clock(int(x["t_us"]), tz) if x.get("t_us") else h(x.get("t", ""))


def _verdict(verdict: object) -> tuple[str, str]:
    return {"device_fault": ("设备故障", "device fault"),
            "not_device_fault": ("非设备故障", "not a device fault")}.get(str(verdict),
                                                                       (str(verdict), ""))


# --- audit --------------------------------------------------------------------------------

ACTION_NAMES = {"login": ("登录", "login"), "login_failed": ("登录失败", "failed login"),
                "logout": ("退出", "logout"), "ruling": ("裁定", "ruling"),
                "fault": ("报修", "fault record"),
                "followup": ("回访", "follow-up"), "export": ("导出", "export")}


def audit_page(user: User, entries: Iterable[Mapping[str, Any]], tz: ZoneInfo,
               csrf: str) -> str:
    rows = "".join(
        f'<tr data-action="{h(e["action"])}"><td>'
        f'{datetime.fromtimestamp(e["t"], UTC).astimezone(tz):%Y-%m-%d %H:%M:%S}</td>'
        f'<td>{h(e["who"])}</td><td>{zh_en(*ACTION_NAMES.get(e["action"], (e["action"], "")))}'
        f'</td><td>{h(e.get("hall") or "—")}</td><td>{h(e["what"])}</td>'
        f'<td>{h(e["address"])}</td></tr>' for e in entries)
    body = ('<table class="audit"><thead><tr><th>时间 <small>when</small></th>'
            '<th>用户 <small>who</small></th><th>操作 <small>what</small></th>'
            '<th>大厅 <small>hall</small></th><th>内容 <small>details</small></th>'
            f'<th>地址 <small>from</small></th></tr></thead><tbody>{rows}</tbody></table>')
    return page(("审计日志", "audit log"), body, user, csrf)


CSS = """
:root { --ink: #1b1f24; --muted: #5b6570; --line: #d5dbe1; --bad: #a4262c; --ok: #2e6b30; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px; color: var(--ink); font: 15px/1.5
  "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
small { color: var(--muted); font-size: 11px; font-weight: normal; }
nav.top { display: flex; gap: 16px; align-items: center; border-bottom: 1px solid var(--line);
  padding-bottom: 8px; }
nav.top .who { margin-left: auto; }
form.inline { display: inline; }
h1 { font-size: 22px; } h2 { font-size: 17px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left;
  vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.name { color: var(--muted); }
.error { color: var(--bad); font-weight: bold; }
.note { color: var(--muted); }
tr.overdue td, tr.overdue .due { color: var(--bad); } tr.overdue { background: #fbe9ea; }
tr.closed { color: var(--muted); }
.exempt, .verified { color: var(--ok); } .rejected { color: var(--bad); }
.unverified { color: #8a5a00; } .pending { color: #8a5a00; } .deducted { color: var(--bad); }
.figures { display: grid; grid-template-columns: repeat(5, 1fr); gap: 4px 12px; }
dd { margin: 0; font-size: 18px; }
pre { margin: 0; white-space: pre-wrap; font-size: 12px; }
form.login { display: grid; gap: 8px; max-width: 320px; }
form.login label { display: grid; }
button { cursor: pointer; }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
"""
