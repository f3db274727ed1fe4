"""Staff incidents (RULES.md §3 "Staff incidents", §7), each with the seed clause it implements."""

from __future__ import annotations

from tests.helpers import Runner, ev, kinds, login, press, reasons

CALLED = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1")]


def incidents(doc: dict, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return [i for i in doc["incidents"] if i["kind"] == kind]


# --- not_prompted: 004 §17(一)5 "必须按照电子评价系统设定的程序,提示服务相对人…如有违反的每次扣1分"


def test_not_prompted_when_next_ticket_called_without_invitation(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:20:00", "ticket_called", ticket="T2")])
    assert doc["incidents"] == [{"line": 3, "counter": "A01", "kind": "not_prompted",
                                 "t": "2026-03-02T09:20:00+08:00", "penalty": 1.0,
                                 "exempt": False, "pending": False}]


def test_not_prompted_at_logout_and_at_cancel_while_serving(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:20:00", "invite_cancel"),
                      ev("09:21:00", "ticket_called", ticket="T2"),
                      ev("09:30:00", "staff_logout")])
    assert [(i["kind"], i["line"]) for i in doc["incidents"]] == [
        ("not_prompted", 3), ("not_prompted", 5)]


def test_rated_ticket_needs_no_invitation(run: Runner) -> None:
    doc = run.replay([*CALLED, press("09:15:00"), ev("09:20:00", "ticket_called", ticket="T2")])
    assert kinds(doc) == []


def test_ticket_open_at_end_of_replay_raises_nothing(run: Runner) -> None:
    """§6: time runs on to the end of the month; a ticket still open then raises nothing."""
    doc = run.replay(CALLED)
    assert kinds(doc) == []


# --- refused_evaluation: 004 §17(一)5 "如拒绝服务相对人评议的每次扣2.5分"


def test_refused_when_staff_cancel_invitation_under_min_invite(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"),
                      ev("09:12:09.999999", "invite_cancel")])
    assert [(i["kind"], i["penalty"], i["line"]) for i in doc["incidents"]] == [
        ("refused_evaluation", 2.5, 4)]


def test_cancel_exactly_at_min_invite_is_not_refusal(run: Runner) -> None:
    """"Less than" is strict: an invitation ended exactly 10 s after it began is fine (§7)."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), ev("09:12:10", "invite_cancel")])
    assert kinds(doc) == []


def test_refused_by_next_call_pause_or_logout(run: Runner) -> None:
    def ended_by(event: dict) -> list[str]:  # type: ignore[type-arg]
        doc = run.replay([*CALLED, ev("09:12:00", "service_done"), event,
                          ev("09:14:00", "resume"), ev("09:15:00", "staff_logout")])
        return [k for k in kinds(doc) if k not in ("not_prompted",)]

    assert ended_by(ev("09:12:03", "ticket_called", ticket="T2")) == ["refused_evaluation"]
    assert ended_by(ev("09:12:03", "pause")) == ["refused_evaluation"]
    assert ended_by(ev("09:12:03", "staff_logout")) == ["refused_evaluation"]
    assert ended_by(login("09:12:03", staff="S2")) == ["refused_evaluation"]


def test_refusal_charged_to_staff_logged_in(run: Runner) -> None:
    """§7: an incident is charged to the staff logged in when it occurs."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), login("09:12:03", staff="S2")])
    staff = doc["report"]["staff"]
    assert staff["S1"]["penalties"] == 2.5
    assert staff["S2"]["penalties"] == 0.0


# --- left_mid_service: 004 §2.8 "一般不得在办理业务中途离岗"; long_pause: 000 "离岗外出一小时以上"


def test_pause_while_serving_is_left_mid_service_and_suspends_ticket(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:12:00", "pause"), ev("09:20:00", "resume"),
                      press("09:25:00")])
    assert kinds(doc) == ["left_mid_service"]
    assert incidents(doc, "left_mid_service")[0]["penalty"] == 0.0
    assert doc["decisions"][0]["reason"] == "accepted"
    assert doc["decisions"][0]["ticket"] == "T1"


def test_pause_while_invited_ends_ticket(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), ev("09:12:30", "pause"),
                      ev("09:13:00", "resume"), press("09:13:05")])
    assert reasons(doc) == ["no_service"]


def test_pause_of_exactly_the_limit_raises_nothing(run: Runner) -> None:
    """§7: a pause resumed exactly at long_pause_min (60) of working time raises nothing."""
    doc = run.replay([login("09:00:00"), ev("09:30:00", "pause"), ev("10:30:00", "resume")])
    assert kinds(doc) == []


def test_long_pause_fires_when_due_without_any_event(run: Runner) -> None:
    """A deadline takes effect when it falls due, even when no event arrives then (§3)."""
    doc = run.replay([login("09:00:00"), ev("09:30:00", "pause"),
                      ev("10:30:00.000001", "resume")])
    assert incidents(doc, "long_pause") == [
        {"line": 2, "counter": "A01", "kind": "long_pause", "t": "2026-03-02T10:30:00+08:00",
         "penalty": 0.0, "exempt": False, "pending": False}]
    doc = run.replay([login("09:00:00"), ev("09:30:00", "pause")])
    assert [i["t"] for i in incidents(doc, "long_pause")] == ["2026-03-02T10:30:00+08:00"]


def test_long_pause_counts_only_working_hours(run: Runner) -> None:
    """Lunch (12:00-13:00) is not working time: 11:30 → 13:30 is exactly 60 minutes."""
    doc = run.replay([login("09:00:00"), ev("11:30:00", "pause"), ev("13:30:00", "resume")])
    assert kinds(doc) == []
    doc = run.replay([login("09:00:00"), ev("11:30:00", "pause"), ev("13:31:00", "resume")])
    assert [i["t"] for i in incidents(doc, "long_pause")] == ["2026-03-02T13:30:00+08:00"]


def test_limit_used_up_at_noon_fires_after_lunch(run: Runner) -> None:
    """Working time stays at the limit over lunch; it is exceeded only after 13:00."""
    doc = run.replay([login("09:00:00"), ev("11:00:00", "pause"), ev("13:00:00", "resume")])
    assert kinds(doc) == []
    doc = run.replay([login("09:00:00"), ev("11:00:00", "pause"), ev("13:00:01", "resume")])
    assert [i["t"] for i in incidents(doc, "long_pause")] == ["2026-03-02T13:00:00+08:00"]


def test_logout_ends_a_pause(run: Runner) -> None:
    doc = run.replay([login("09:00:00"), ev("09:30:00", "pause"), ev("09:40:00", "staff_logout")])
    assert kinds(doc) == []


def test_calling_a_ticket_ends_a_pause(run: Runner) -> None:
    doc = run.replay([login("09:00:00"), ev("09:30:00", "pause"),
                      ev("09:40:00", "ticket_called", ticket="T1"), press("09:41:00")])
    assert reasons(doc) == ["accepted"]
    assert kinds(doc) == []


# --- staff sessions (RULES.md §3, §7)


def test_same_staff_login_again_changes_nothing(run: Runner) -> None:
    doc = run.replay([*CALLED, login("09:11:00"), press("09:12:00")])
    assert reasons(doc) == ["accepted"]
    assert kinds(doc) == []


def test_login_elsewhere_logs_out_of_first_counter(run: Runner) -> None:
    doc = run.replay([*CALLED, login("09:11:00", counter="B01"), press("09:12:00")])
    assert reasons(doc) == ["closed"]
    assert [(i["kind"], i["counter"]) for i in doc["incidents"]] == [
        ("not_prompted", "A01"), ("unbound_rating", "A01")]


def test_logout_of_another_staff_member_is_ignored(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:11:00", "staff_logout", staff="S9"), press("09:12:00")])
    assert reasons(doc) == ["accepted"]


def test_ratings_attribute_to_staff_who_called_the_ticket(run: Runner) -> None:
    """§5: ratings attribute to the staff logged in when the ticket was called."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), press("09:12:05")])
    assert doc["report"]["staff"]["S1"]["ratings"] == 1
    assert doc["report"]["staff"]["S1"]["volume"] == 1


def test_pause_at_a_closed_counter_is_ignored(run: Runner) -> None:
    doc = run.replay([ev("08:00:00", "pause"), login("09:00:00"),
                      ev("09:10:00", "ticket_called", ticket="T1"), press("09:11:00")])
    assert reasons(doc) == ["accepted"]
    assert kinds(doc) == []
