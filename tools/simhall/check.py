"""Does the plan do what its people promise? The plan goes through the rules engine as a
timeline would (RULES.md §6, checked by the timeline's own parser), and each counter's
incidents are set against what its profile injected.

The verdicts, per counter:
- every behaviour injected raised its incident exactly as many times (an exempt outage
  counted among the exempt ones);
- no penalised incident of a kind its profile does not promise: honest staff raise none,
  and a cheater raises nothing beyond its own cheat. A failure here is a bug in the rules
  or in the simulator's people.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import Incident, IncidentKind
from edge_agent.timeline import EventParser, format_time
from tools.simhall.people import Act, Desk, expected

HOUR_US = 3_600_000_000
# Behaviour injected (the plan's notes, Counter.note) -> the incident it must raise.
RAISES = {
    "self_rating": IncidentKind.SELF_RATING,
    "consecutive_rating": IncidentKind.CONSECUTIVE_RATING,
    "refused_evaluation": IncidentKind.REFUSED_EVALUATION,
    "not_prompted": IncidentKind.NOT_PROMPTED,
    "long_pause": IncidentKind.LONG_PAUSE,
    "device_offline": IncidentKind.DEVICE_OFFLINE,
    "device_offline_exempt": IncidentKind.DEVICE_OFFLINE,  # faulty_pad: verified, so exempt
    "device_offline_excused": IncidentKind.DEVICE_OFFLINE,  # self_excuser: not_device_fault
}

# Cheats done with a press on the pad: one that reaches the agent before its ticket's call
# (around a restart) is decided unbound rather than as the cheat.
RATING_CHEATS = frozenset({"self_rating", "consecutive_rating"})


@dataclass
class CounterResult:
    counter: str
    profile: str
    tickets: int
    injected: dict[str, int]
    penalised: Tally[str] = field(default_factory=Tally)  # kind -> incidents not exempt
    exempt: Tally[str] = field(default_factory=Tally)
    listed: Tally[str] = field(default_factory=Tally)  # penalty 0: for review only
    # Exempt because a system outage (the agent down) may have caused them: explained in the
    # journal with the outage's times (docs/rules.md, "System outages").
    excused: Tally[str] = field(default_factory=Tally)

    def raised(self, behaviour: str) -> int:
        kind = RAISES[behaviour]
        if behaviour.endswith("_exempt"):
            return self.exempt[kind]
        return self.penalised[kind] + self.listed[kind]

    def unexpected(self) -> dict[str, int]:
        """Penalised incidents of kinds the profile does not promise."""
        allowed = set(expected(self.profile))
        return {k: n for k, n in self.penalised.items() if k not in allowed and n > 0}

    def caught(self, behaviour: str, n: int) -> bool:
        """Raised as injected, or short only by incidents a system outage excused; a rating
        cheat also by presses left unbound in an outage's catch-up (rules.md): the press
        came before its ticket's call, so the cheat was not seen, and the press is listed
        with the outage."""
        got, excused = self.raised(behaviour), self.excused[RAISES[behaviour]]
        if behaviour in RATING_CHEATS:
            excused += self.excused["unbound_rating"]
        if behaviour.endswith("_exempt"):
            return got - excused <= n <= got
        return got <= n <= got + excused

    @property
    def ok(self) -> bool:
        caught = all(self.caught(b, n) for b, n in self.injected.items())
        return caught and not self.unexpected()


def incidents(acts: Iterable[Act], config: HallConfig) -> list[Incident]:
    """Every incident the rules raise for the plan, time run on an hour past its end."""
    engine = RulesEngine(config, displays=False)
    parser = EventParser(config.scale)
    tz = config.tz
    out: list[Incident] = []
    last = 0
    for line, act in enumerate(acts, 1):
        ev = parser.parse({"t": format_time(act.t, tz), "counter": act.counter, **act.body},
                          line)
        out += [o for o in engine.handle(ev) if isinstance(o, Incident)]
        last = act.t
    out += [o for o in engine.advance(last + HOUR_US) if isinstance(o, Incident)]
    out += [o for o in engine.finish() if isinstance(o, Incident)]
    return out


def judge(desks: list[Desk], found: list[Incident]) -> list[CounterResult]:
    results = {d.counter.id: CounterResult(d.counter.id, d.counter.profile, d.counter.tickets,
                                           dict(d.counter.injected)) for d in desks}
    for inc in found:
        r = results[inc.counter]
        if inc.exempt:
            r.exempt[inc.kind] += 1
        elif inc.penalty > 0:
            r.penalised[inc.kind] += 1
        else:
            r.listed[inc.kind] += 1
    return list(results.values())


def judge_report(desks: list[Desk], reports: list[dict[str, Any]], config: HallConfig
                 ) -> list[CounterResult]:
    """The same verdicts on what the agent raised: its month reports (`python -m edge_agent
    report --format json`), one per month the run covered."""
    results = {d.counter.id: CounterResult(d.counter.id, d.counter.profile, d.counter.tickets,
                                           dict(d.counter.injected)) for d in desks}
    for report in reports:
        for counter, row in report["counters"].items():
            r = results.get(counter)
            if r is None:
                continue
            for d in row["deductions"]:
                kind = d["kind"]
                if d["exempt_lines"]:
                    r.exempt[kind] += len(d["exempt_lines"])
                    r.excused[kind] += len(d.get("system_outage_lines", ()))
                if not d["lines"]:
                    continue
                if config.penalties.get(kind, 0) > 0:
                    r.penalised[kind] += len(d["lines"])
                else:
                    r.listed[kind] += len(d["lines"])
    return list(results.values())


def table(results: list[CounterResult]) -> str:
    """Behaviour injected -> incidents raised, one row per counter and behaviour."""
    rows = [f"{'counter':<8}{'profile':<13}{'behaviour':<24}{'injected':>9}{'raised':>8}  verdict"]
    for r in results:
        for behaviour, n in sorted(r.injected.items()):
            got = r.raised(behaviour)
            rows.append(f"{r.counter:<8}{r.profile:<13}{behaviour:<24}{n:>9}{got:>8}  "
                        f"{'caught' if r.caught(behaviour, n) else 'MISMATCH'}")
        extra = r.unexpected()
        if extra or not r.injected:
            what = ", ".join(f"{k} {n}" for k, n in sorted(extra.items())) or "none"
            rows.append(f"{r.counter:<8}{r.profile:<13}{'(penalised, unpromised)':<24}"
                        f"{0:>9}{sum(extra.values()):>8}  "
                        f"{'FALSE POSITIVE: ' + what if extra else 'clean'}")
    return "\n".join(rows)


def side_by_side(expected: list[CounterResult], agent: list[CounterResult] | None,
                 center: list[CounterResult] | None) -> str:
    """Behaviour injected -> incidents raised by the rules on the plan, by the agent (its
    journal's month report) and by the center (its report.json); `-` where not asked."""
    def by_counter(results: list[CounterResult] | None) -> dict[str, CounterResult]:
        return {r.counter: r for r in results or []}

    sides = [by_counter(expected), by_counter(agent), by_counter(center)]
    rows = [f"{'counter':<8}{'profile':<13}{'behaviour':<24}{'injected':>9}{'rules':>7}"
            f"{'agent':>7}{'center':>8}  verdict"]
    for r in expected:
        got = [s.get(r.counter) for s in sides]
        for behaviour, n in sorted(r.injected.items()):
            raised = [None if g is None else g.raised(behaviour) for g in got]
            good = all(g is None or g.caught(behaviour, n) for g in got)
            rows.append(f"{r.counter:<8}{r.profile:<13}{behaviour:<24}{n:>9}"
                        + "".join(f"{'-' if x is None else x:>{w}}"
                                  for x, w in zip(raised, (7, 7, 8), strict=True))
                        + f"  {'caught' if good else 'MISMATCH'}")
        extra = [None if g is None else sum(g.unexpected().values()) for g in got]
        if any(extra) or not r.injected:
            kinds = sorted({k for g in got if g is not None for k in g.unexpected()})
            rows.append(f"{r.counter:<8}{r.profile:<13}{'(penalised, unpromised)':<24}{0:>9}"
                        + "".join(f"{'-' if x is None else x:>{w}}"
                                  for x, w in zip(extra, (7, 7, 8), strict=True))
                        + ("  FALSE POSITIVE: " + ", ".join(kinds) if any(extra)
                           else "  clean"))
    return "\n".join(rows)
