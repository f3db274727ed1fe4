"""The demo: a day of a small hall through the rules, the journal and the monthly report.

Runs the shipped sample day (12 counters, some of them cheating) the way a technician would:
record it into a fresh journal, verify the journal's chain, print the month's report from
the journal, and check that every cheating behaviour injected raised its incident while the
honest counters raised none.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "edge_agent" / "samples"
WORK = ROOT / "var" / "demo"
MONTH = "2026-03"
# What each injected behaviour must raise; an exempt outage is listed but not deducted.
EXPECTED = {
    "self_rating": "self_rating",
    "consecutive_rating": "consecutive_rating",
    "refused_evaluation": "refused_evaluation",
    "not_prompted": "not_prompted",
    "long_pause": "long_pause",
    "device_offline": "device_offline",
    "device_offline_exempt": "device_offline",
}
PENALISED_FOR_HONEST = ("self_rating", "consecutive_rating", "refused_evaluation",
                        "not_prompted", "device_offline")


def edge_agent(*args: str, capture: bool = False) -> str:
    argv = [sys.executable, "-m", "edge_agent", *args]
    shown = " ".join(shlex.quote(a if not a.startswith(str(ROOT)) else
                                 str(Path(a).relative_to(ROOT))) for a in args)
    print(f"\n$ python -m edge_agent {shown}", flush=True)
    proc = subprocess.run(argv, cwd=ROOT, text=True, check=False,
                          stdout=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        raise SystemExit(f"demo: the command above failed with status {proc.returncode}")
    return proc.stdout or ""


def check_table(report: dict[str, Any], manifest: dict[str, Any]) -> bool:
    print("\nCheating behaviours injected → incidents raised")
    print(f"  {'counter':<8}{'behaviour':<24}{'injected':>9}{'raised':>8}  verdict")
    ok = True
    for counter, info in sorted(manifest.items()):
        deductions = {d["kind"]: d for d in report["counters"][counter]["deductions"]}
        for behaviour, injected in sorted(info["injected"].items()):
            d = deductions.get(EXPECTED[behaviour], {})
            raised = d.get("exempt", 0) if behaviour.endswith("_exempt") else \
                len(d.get("lines", []))
            good = raised == injected
            ok &= good
            print(f"  {counter:<8}{behaviour:<24}{injected:>9}{raised:>8}  "
                  f"{'caught' if good else 'MISMATCH'}")
        if info["profile"] in ("honest", "faulty_pad"):
            false = sum(len(d["lines"]) for k, d in deductions.items()
                        if k in PENALISED_FOR_HONEST)
            ok &= false == 0
            print(f"  {counter:<8}{'(' + info['profile'] + ')':<24}{0:>9}{false:>8}  "
                  f"{'no penalty' if false == 0 else 'FALSE POSITIVE'}")
    return ok


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    config, day = str(SAMPLES / "hall.toml"), str(SAMPLES / "day.jsonl")
    journal = str(WORK / "journal.sqlite")
    print("Demo: one working day (2026-03-02) of a 12-counter hall; some staff cheat.")
    edge_agent("record", day, "--journal", journal, "--config", config)
    edge_agent("verify", journal)
    edge_agent("report", "--journal", journal, "--config", config, "--month", MONTH)
    report = json.loads(edge_agent("report", "--journal", journal, "--config", config,
                                   "--month", MONTH, "--format", "json", capture=True))
    print("(the JSON report; also --format csv)")
    manifest = json.loads((SAMPLES / "day-manifest.json").read_text(encoding="utf-8"))
    if not check_table(report, manifest):
        print("\ndemo: the rules missed an injected behaviour or penalised an honest counter")
        return 1
    print(f"\nEvery injected behaviour was caught; no honest counter was penalised.\n"
          f"Journal kept at {Path(journal).relative_to(ROOT)}; try `python -m edge_agent "
          f"replay --journal {Path(journal).relative_to(ROOT)} --config "
          f"edge_agent/samples/hall.toml --month {MONTH}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
