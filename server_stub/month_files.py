"""A hall's month files (the report and the 好差评 export), rendered from the stored journal:
what the API's GET .../months/M/NAME and the console's downloads serve."""

from __future__ import annotations

import json
from typing import Any

from edge_agent.journal import JournalError
from edge_agent.timeline import TimelineError
from server_stub.config import HallEntry
from server_stub.errors import Rejection
from server_stub.store import Store

MEDIA_TYPES = {
    "report.json": "application/json",
    "report-counters.csv": "text/csv; charset=utf-8",
    "report-staff.csv": "text/csv; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
    "export.json": "application/json",
    "export.csv": "text/csv; charset=utf-8",
}


def render(store: Store, entry: HallEntry, month: str, name: str) -> str:
    """The month file ``name`` (one of MEDIA_TYPES) of a hall, replayed from the store."""
    # the report code, imported when first used: the center starts without it
    from server_stub import checkpoints, export, reports

    config, hall = entry.config, entry.id
    try:
        if name.startswith("export."):
            def replay(sink: reports.Sink) -> reports.MonthReplay:
                return checkpoints.replay(store, hall, config, month, sink)[0]

            rows = export.haochaping_rows((), config, month, entry.region_code, replay)
            return export.render_export(rows, name.split(".")[1])
        result = checkpoints.month_replay(store, hall, config, month)
        if name == "report.html":
            return reports.render_html(result.report, hall_name=entry.id,
                                       evidence=result.evidence,
                                       counter_names=config.counters)
        report = result.report
        if name == "report.json":
            return _json(report)
        return reports.render_csv(report, "counter" if "counters" in name else "staff")
    except (JournalError, TimelineError) as exc:
        raise Rejection(422, "journal", f"hall {entry.id}'s stored journal cannot be "
                                        f"replayed: {exc}") from None


def _json(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
