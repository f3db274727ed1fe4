"""A monthly report as text: the CSV file and the table ``python -m edge_agent report`` prints,
and the deduction cells the center's report files share with them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from edge_agent.config import HallConfig

CSV_FIELDS = ("scope", "id", "volume", "ratings", "satisfied", "base", "standard", "shortfall",
              "shortfall_deduction", "penalties", "score", "deductions")


def report_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("month", *CSV_FIELDS))
    for scope in ("counters", "staff"):
        for key, row in report[scope].items():
            w.writerow((report["month"], scope[:-1] if scope == "counters" else scope, key,
                        *(row[f] for f in CSV_FIELDS[2:-1]), deduction_text(row["deductions"])))
    return buf.getvalue()


def deduction_text(deductions: Iterable[Mapping[str, Any]]) -> str:
    """A row's deductions in one CSV cell: kind, points, and the records behind them."""
    parts = []
    for d in deductions:
        lines = " ".join(str(n) for n in d["lines"])
        exempt = f" exempt:{' '.join(str(n) for n in d['exempt_lines'])}" if d["exempt"] else ""
        pending = " pending:" + " ".join(str(n) for n in d["pending_lines"]) \
            if d.get("pending") else ""
        parts.append(f"{d['kind']} -{d['points']} [{lines}]{exempt}{pending}")
    return "; ".join(parts)


OUTAGE_WORDS = {"exempt": "exempt (已查实)", "pending": "pending (待核实)",
                "deducted": "deducted"}
FAULT_WORDS = {"verified": "verified 已查实", "unverified": "unverified 待核实",
               "rejected": "rejected 非设备故障"}


def outage_line(outage: Mapping[str, Any], source: str) -> str:
    """One outage of a device_offline deduction: its status and its repair records."""
    faults = ", ".join(f"{f['ref'] or f'{source} ' + str(f['line'])} by {f['source']}: "
                       f"{FAULT_WORDS.get(f['status'], f['status'])}" for f in outage["faults"])
    return (f"{source} {outage['line']} {outage['device']}: "
            f"{OUTAGE_WORDS.get(outage['status'], outage['status'])}"
            f"{'; repair records: ' + faults if faults else '; no repair record'}")


def report_table(report: dict[str, Any], config: HallConfig, source: str) -> str:
    out = [f"Monthly evaluation report, hall {config.hall_id}, {report['month']}", ""]
    head = (f"{'counter':<10}{'volume':>7}{'ratings':>8}{'satisf.':>8}{'base':>6}{'std':>5}"
            f"{'short':>6}{'-short':>7}{'-incid':>7}{'score':>7}")
    for scope, title in (("counters", "counter"), ("staff", "staff")):
        out.append(head.replace("counter", f"{title:<7}", 1))
        for key, row in report[scope].items():
            name = config.counters.get(key, "") if scope == "counters" else ""
            out.append(f"{key:<10}{row['volume']:>7}{row['ratings']:>8}{row['satisfied']:>8}"
                       f"{row['base']:>6.2f}{row['standard']:>5}{row['shortfall']:>6}"
                       f"{row['shortfall_deduction']:>7}{row['penalties']:>7.2f}"
                       f"{row['score']:>7.2f}  {name}".rstrip())
            for d in row["deductions"]:
                lines = ", ".join(str(n) for n in d["lines"][:12])
                more = " …" if len(d["lines"]) > 12 else ""
                exempt = f" ({d['exempt']} exempt: device fault verified, 已查实)" \
                    if d["exempt"] else ""
                pending = f" ({d['pending']} pending the IT department's ruling, 待核实)" \
                    if d.get("pending") else ""
                out.append(f"{'':<12}{d['kind']} ×{d['count']} −{d['points']:.2f}{exempt}"
                           f"{pending}{f'  ({source} {lines}{more})' if lines else ''}")
                out.extend(f"{'':<14}{outage_line(o, source)}" for o in d.get("outages", ()))
        out.append("")
    return "\n".join(out)
