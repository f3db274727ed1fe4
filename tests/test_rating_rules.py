"""Every reason a rating press can get (RULES.md §3, checks in order), via `replay`.

Each test names the seed clause it implements. Seeds: 004 = 青浦区行政服务中心 management rules
(§17 服务质量电子评价考核办法, §2.8 暂停服务); 003 = 窗口服务礼仪 5 步曲 (step 5 评价).
"""

from __future__ import annotations

from tests.helpers import Runner, ev, kinds, login, press, reasons

CALLED = [login("09:00:00", id_hash="h:staff1"),
          ev("09:10:00", "ticket_called", ticket="T1", applicant="h:citizen")]


def test_closed_counter_press_is_unbound(run: Runner) -> None:
    """#1 closed: a press with nobody logged in (004 §17(一)5: ratings follow the procedure)."""
    doc = run.replay([press("09:00:00")])
    assert doc["decisions"] == [{"line": 1, "counter": "A01", "accepted": False,
                                 "reason": "closed", "ticket": None}]
    assert kinds(doc) == ["unbound_rating"]
    assert doc["incidents"][0]["penalty"] == 0.0


def test_paused_counter_press_is_unbound(run: Runner) -> None:
    """#2 paused: 暂停服务 shows, no rating binds (004 §2.8)."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), ev("09:12:30", "pause"),
                      press("09:12:40"), ev("09:20:00", "resume")])
    assert reasons(doc) == ["paused"]
    assert kinds(doc) == ["unbound_rating"]


def test_closed_wins_over_everything_after_logout(run: Runner) -> None:
    """Order of checks: #1 before #3 (a double press right after logout is still closed)."""
    doc = run.replay([*CALLED, press("09:11:00"), ev("09:11:01", "staff_logout"),
                      press("09:11:02")])
    assert reasons(doc) == ["accepted", "closed"]


def test_double_press_within_grace_inclusive(run: Runner) -> None:
    """#3 double_press: exactly 3000 ms after an accepted press is a nervous double press (§7)."""
    doc = run.replay([*CALLED, press("09:11:00"), press("09:11:03")])
    assert reasons(doc) == ["accepted", "double_press"]
    assert kinds(doc) == []


def test_press_just_past_grace_is_already_rated(run: Runner) -> None:
    """#7 already_rated raises 连续评价 (004 §17(一)5 "如有连续评价现象的每次扣1分")."""
    doc = run.replay([*CALLED, press("09:11:00"), press("09:11:03.000001")])
    assert reasons(doc) == ["accepted", "already_rated"]
    assert kinds(doc) == ["consecutive_rating"]
    assert doc["incidents"][0]["penalty"] == 1.0


def test_double_press_wins_over_self_rating(run: Runner) -> None:
    """Order of checks: #3 before #4, so a staff key bounce after a rating is no incident."""
    doc = run.replay([*CALLED, press("09:11:00"), press("09:11:01", source="staff")])
    assert reasons(doc) == ["accepted", "double_press"]
    assert kinds(doc) == []


def test_staff_source_press_is_self_rating_each_time(run: Runner) -> None:
    """#4 self_rating from a staff-side input, one incident per press (004 §17(一)5 自我评价)."""
    doc = run.replay([*CALLED, press("09:11:00", source="staff"),
                      press("09:11:20", source="staff")])
    assert reasons(doc) == ["self_rating", "self_rating"]
    assert kinds(doc) == ["self_rating", "self_rating"]


def test_applicant_hash_equal_to_staff_id_hash_is_self_rating(run: Runner) -> None:
    """#4 self_rating: the ticket's applicant is the logged-in staff member (004 §17(一)5)."""
    doc = run.replay([login("09:00:00", id_hash="h:me"),
                      ev("09:10:00", "ticket_called", ticket="T1", applicant="h:me"),
                      press("09:11:00")])
    assert reasons(doc) == ["self_rating"]
    assert kinds(doc) == ["self_rating"]


def test_self_rating_checked_before_no_service(run: Runner) -> None:
    """Order of checks: #4 before #5: a staff press at an idle counter is self-rating."""
    doc = run.replay([login("09:00:00"), press("09:01:00", source="staff")])
    assert reasons(doc) == ["self_rating"]


def test_idle_counter_press_is_no_service(run: Runner) -> None:
    """#5 no_service: staff present, nobody served (003 step 5: rating follows a service)."""
    doc = run.replay([login("09:00:00"), press("09:01:00")])
    assert reasons(doc) == ["no_service"]
    assert kinds(doc) == ["unbound_rating"]


def test_invitation_exactly_ttl_old_is_expired(run: Runner) -> None:
    """#6 invite_expired: an invitation exactly invite_ttl_s (60) old is expired (§7)."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), press("09:13:00")])
    assert reasons(doc) == ["invite_expired"]
    assert kinds(doc) == ["unbound_rating"]


def test_invitation_just_under_ttl_accepts(run: Runner) -> None:
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), press("09:12:59.999999")])
    assert reasons(doc) == ["accepted"]


def test_expired_invitation_ends_ticket_without_incident(run: Runner) -> None:
    """An invitation's expiry itself raises no incident, and the next call raises none (§7)."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"),
                      ev("09:20:00", "ticket_called", ticket="T2")])
    assert kinds(doc) == []


def test_consecutive_rating_at_most_once_per_ticket(run: Runner) -> None:
    """连续评价: at most one per ticket, whether from already_rated or too_soon (§7)."""
    doc = run.replay([*CALLED, press("09:11:00"), press("09:11:10"), press("09:11:20"),
                      press("09:11:30", "unsatisfied")])
    assert reasons(doc) == ["accepted", "already_rated", "already_rated", "already_rated"]
    assert kinds(doc) == ["consecutive_rating"]


def test_too_soon_after_previous_ticket_rating(run: Runner) -> None:
    """#8 too_soon: under min_rating_interval_s (15) since the last accepted rating (连续评价)."""
    doc = run.replay([*CALLED, press("09:11:00"),
                      ev("09:11:05", "ticket_called", ticket="T2"),
                      press("09:11:10"), press("09:11:14.999999"), press("09:11:20")])
    assert reasons(doc) == ["accepted", "too_soon", "too_soon", "accepted"]
    assert kinds(doc) == ["consecutive_rating"]  # once for T2, though pressed twice
    assert doc["incidents"][0]["line"] == 5


def test_interval_of_exactly_min_is_accepted(run: Runner) -> None:
    """"Less than" is strict: exactly 15 s after the previous rating is accepted (§7)."""
    doc = run.replay([*CALLED, press("09:11:00"),
                      ev("09:11:05", "ticket_called", ticket="T2"), press("09:11:15")])
    assert reasons(doc) == ["accepted", "accepted"]
    assert [d["ticket"] for d in doc["decisions"]] == ["T1", "T2"]


def test_rating_while_serving_is_accepted(run: Runner) -> None:
    """#9 accepted: serving binds a press to the current ticket (004 §17(一)2)."""
    doc = run.replay([*CALLED, press("09:11:00", "unsatisfied")])
    assert doc["decisions"] == [{"line": 3, "counter": "A01", "accepted": True,
                                 "reason": "accepted", "ticket": "T1"}]
    row = doc["report"]["counters"]["A01"]
    assert (row["ratings"], row["satisfied"], row["base"]) == (1, 0, 0.0)


def test_service_done_without_ticket_opens_anonymous_ticket(run: Runner) -> None:
    """Halls without a queue system: 请评价 after each citizen opens a ticket that counts."""
    doc = run.replay([login("09:00:00"), ev("09:05:00", "service_done"), press("09:05:10"),
                      ev("09:09:00", "service_done"), press("09:09:10")])
    assert reasons(doc) == ["accepted", "accepted"]
    assert doc["report"]["counters"]["A01"]["volume"] == 2


def test_second_invite_of_rated_ticket_opens_next_anonymous_ticket(run: Runner) -> None:
    """Within the invitation's 60 s, a second 请评价 after a rating is the next citizen."""
    doc = run.replay([login("09:00:00"), ev("09:05:00", "service_done"), press("09:05:05"),
                      ev("09:05:40", "service_done"), press("09:05:45")])
    assert reasons(doc) == ["accepted", "accepted"]
    assert kinds(doc) == []


def test_repeated_invite_of_unrated_ticket_changes_nothing(run: Runner) -> None:
    """A second 请评价 before any rating keeps the first invitation's clock."""
    doc = run.replay([*CALLED, ev("09:12:00", "service_done"), ev("09:12:30", "service_done"),
                      press("09:13:10")])
    assert reasons(doc) == ["invite_expired"]
    assert doc["report"]["counters"]["A01"]["volume"] == 1


def test_unknown_counters_exist_in_replay(run: Runner) -> None:
    """Counters seen in the timeline exist in replay without configuration (§6)."""
    doc = run.replay([login("09:00:00", counter="Z99"), press("09:01:00", counter="Z99")])
    assert doc["decisions"][0]["counter"] == "Z99"
    assert "Z99" in doc["report"]["counters"]


def test_ticket_called_at_closed_counter_counts_but_binds_nothing(run: Runner) -> None:
    doc = run.replay([ev("09:10:00", "ticket_called", ticket="T1"), press("09:11:00")])
    assert reasons(doc) == ["closed"]
    assert doc["report"]["counters"]["A01"]["volume"] == 1
