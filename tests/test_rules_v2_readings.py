"""The readings RULES.md §3 fixes in version 2 ("Readings fixed in version 2") and §7's kept
``id_hash`` of a repeated login; each was ambiguous in version 1."""

from __future__ import annotations

from typing import Any

from tests.helpers import Runner, ev, kinds, login, press, reasons

SERVED = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1")]


def volume(doc: dict[str, Any]) -> int:
    return int(doc["report"]["counters"]["A01"]["volume"])


def test_a_closed_counter_counts_a_called_ticket_but_nothing_else_happens(run: Runner) -> None:
    """§3 "A closed counter": ticket_called counts in its volume but the ticket is not
    current and nobody is charged; service_done and invite_cancel there change nothing."""
    doc = run.replay([ev("09:10:00", "ticket_called", ticket="T1"),
                      ev("09:11:00", "service_done"), ev("09:11:05", "invite_cancel"),
                      press("09:11:10"), login("09:20:00"), press("09:20:10")])
    assert volume(doc) == 1
    assert reasons(doc) == ["closed", "no_service"]
    assert kinds(doc) == ["unbound_rating", "unbound_rating"]  # no not_prompted for T1


def test_calling_the_current_ticket_again_is_one_service(run: Runner) -> None:
    """§3 "The same ticket called again while it is current (重呼) changes nothing"."""
    doc = run.replay([*SERVED, ev("09:11:00", "ticket_called", ticket="T1"),
                      ev("09:15:00", "service_done"), press("09:15:20")])
    assert volume(doc) == 1
    assert reasons(doc) == ["accepted"]
    assert kinds(doc) == []  # version 1 ended T1 unprompted: not_prompted


def test_calling_a_ticket_again_after_it_ended_is_a_new_ticket(run: Runner) -> None:
    doc = run.replay([*SERVED, ev("09:15:00", "service_done"), press("09:15:20"),
                      ev("09:20:00", "ticket_called", ticket="T2"),
                      ev("09:21:00", "ticket_called", ticket="T1")])
    assert volume(doc) == 3
    assert kinds(doc) == ["not_prompted"]  # T2 ended with no invitation


def test_service_done_again_keeps_the_unrated_invitation_and_its_clock(run: Runner) -> None:
    """§3: "service_done while the current ticket is invited and unrated changes nothing:
    the same citizen is asked again, and the invitation keeps its clock"."""
    doc = run.replay([*SERVED, ev("09:15:00", "service_done"), ev("09:15:50", "service_done"),
                      press("09:16:00")])  # 60 s after the first invitation: expired
    assert volume(doc) == 1
    assert reasons(doc) == ["invite_expired"]


def test_service_done_after_a_rating_opens_the_next_anonymous_ticket(run: Runner) -> None:
    """§3: "After a rating, or once the invitation has expired, service_done opens the next
    (anonymous) ticket"."""
    doc = run.replay([*SERVED, ev("09:15:00", "service_done"), press("09:15:10"),
                      ev("09:20:00", "service_done"), press("09:20:10"),
                      ev("09:30:00", "service_done"), ev("09:31:00", "service_done"),
                      press("09:31:10")])
    assert volume(doc) == 4
    assert reasons(doc) == ["accepted", "accepted", "accepted"]


def test_invite_cancel_with_no_live_ticket_changes_nothing(run: Runner) -> None:
    """§3: "invite_cancel with no live ticket (say, after the invitation expired) changes
    nothing": the counter stays invited (expired), so a press is invite_expired."""
    doc = run.replay([*SERVED, ev("09:15:00", "service_done"),
                      ev("09:17:00", "invite_cancel"), press("09:17:10")])
    assert reasons(doc) == ["invite_expired"]  # version 1: no_service
    assert kinds(doc) == ["unbound_rating"]


def test_a_repeated_login_replaces_the_id_hash_held(run: Runner) -> None:
    """§7: "The same staff logging in again at the same counter ends nothing; an id_hash it
    carries replaces the one held (rule 4 compares with the latest)"."""
    doc = run.replay([login("09:00:00", id_hash="h:old"),
                      ev("09:10:00", "ticket_called", ticket="T1", applicant="h:new"),
                      login("09:11:00", id_hash="h:new"), ev("09:12:00", "service_done"),
                      press("09:12:10")])
    assert reasons(doc) == ["self_rating"]
    assert volume(doc) == 1  # the repeated login ended nothing


def test_a_repeated_login_without_id_hash_keeps_the_one_held(run: Runner) -> None:
    doc = run.replay([login("09:00:00", id_hash="h:me"),
                      ev("09:10:00", "ticket_called", ticket="T1", applicant="h:me"),
                      login("09:11:00"), ev("09:12:00", "service_done"), press("09:12:10")])
    assert reasons(doc) == ["self_rating"]
