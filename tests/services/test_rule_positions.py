"""The ordering rules end to end: issue / check in / call / no-show / return / transfer through
the services on SQLite, with the manual clock, against the demo hall's configured rules.

Every expected order is worked out by hand from the service's rules in the demo site file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from queue_server.domain.clock import ManualClock
from queue_server.domain.errors import (
    APPOINTMENT_TOO_EARLY,
    COUNTER_NOT_OPEN,
    QUEUE_EMPTY,
    QueueError,
)
from queue_server.domain.tickets import Action
from queue_server.persistence.models import Ticket, TicketEvent
from queue_server.services import actions, issuing, views
from queue_server.services.context import HallContext
from queue_server.services.lines import predicted_line
from tests.conftest import SHANGHAI

STAFF = "user:staff1"


def local(hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    """hh:mm:ss on the test day (Monday 23 November 2026) in Shanghai."""
    return dt.datetime(2026, 11, 23, hh, mm, ss, tzinfo=SHANGHAI)


def walk_in(ctx: HallContext, service: str, priority: str = "normal") -> dict[str, Any]:
    view, created = issuing.issue_ticket(
        ctx, service_id=service, actor=STAFF, by_device=False, priority=priority
    )
    assert created
    return view


def book(ctx: HallContext, service: str, slot: dt.datetime) -> str:
    return issuing.book_appointment(ctx, service_id=service, slot_start=slot)["code"]


def check_in(ctx: HallContext, code: str) -> dict[str, Any]:
    view, created = issuing.issue_ticket(
        ctx, service_id=None, appointment_code=code, actor="device:kiosk-1", by_device=True
    )
    assert created
    return view


def view_of(ctx: HallContext, ticket_id: int) -> dict[str, Any]:
    with ctx.db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert t is not None
        return views.ticket_view(ctx, s, t)


def line(ctx: HallContext, service: str) -> list[str]:
    """The numbers of the service's line, in the order the rules will call them."""
    with ctx.db.session() as s:
        order = predicted_line(ctx, s, service)
        return [s.get(Ticket, e.ticket_id).number for e in order]  # type: ignore[union-attr]


def open_counter(ctx: HallContext, counter: str) -> None:
    actions.set_counter_state(ctx, counter, "open", STAFF)


def call_all(ctx: HallContext, clock: ManualClock, counter: str) -> list[str]:
    """Press "call next" until nobody is left, a minute apart; the numbers in call order."""
    called = []
    for _ in range(100):
        clock.advance(minutes=1)
        try:
            called.append(actions.call_next(ctx, counter, STAFF)["ticket"]["number"])
        except QueueError as exc:
            assert exc.code == QUEUE_EMPTY
            return called
    raise AssertionError("the line never emptied")


def ahead(ctx: HallContext, tickets: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    return {n: view_of(ctx, t["id"])["people_ahead"] for n, t in tickets.items()}


# ---------------------------------------------------------------- late arrivals


def test_late_appointment_after_n_im1(ctx: HallContext, clock: ManualClock) -> None:
    # im1: 30-minute slots, appointments first, late after 30 min, late rule after_n with N=3.
    codes = [book(ctx, "im1", local(9, 0)) for _ in range(7)]
    t: dict[str, dict[str, Any]] = {}
    for i in range(5):  # C001-C005: the 9:00 appointments, on time at 9:00-9:04
        clock.set(local(9, i))
        v = check_in(ctx, codes[i])
        t[v["number"]] = v
    clock.set(local(9, 10))
    t["C006"] = walk_in(ctx, "im1")  # walk-in of the 9:00 slot
    clock.set(local(9, 31))
    t["C007"] = walk_in(ctx, "im1")  # walk-in of the 9:30 slot
    clock.set(local(9, 33))
    t["C008"] = check_in(ctx, codes[5])  # 9:00 appointment, 33 min after: late
    clock.set(local(9, 34))
    t["C009"] = check_in(ctx, codes[6])  # late too
    assert sorted(t) == [f"C{i:03d}" for i in range(1, 10)]
    assert t["C008"]["late"] and t["C009"]["late"] and not t["C005"]["late"]

    # C008 goes after three on-time patients (C001-C003). C009 goes three on-time patients
    # after C008 (C004, C005, C006) - still inside the 9:00 slot, so ahead of C007.
    expected = ["C001", "C002", "C003", "C008", "C004", "C005", "C006", "C009", "C007"]
    assert line(ctx, "im1") == expected
    assert view_of(ctx, t["C008"]["id"])["people_ahead"] == 3
    assert view_of(ctx, t["C009"]["id"])["people_ahead"] == 7
    open_counter(ctx, "room-1")
    assert call_all(ctx, clock, "room-1") == expected


def test_appointment_check_in_too_early_im1(ctx: HallContext, clock: ManualClock) -> None:
    # im1 accepts check-in up to 60 minutes before the slot. At 9:00 a 10:30 slot is too early;
    # a 10:00 slot is just in time. The refusal must not use up a number.
    early = book(ctx, "im1", local(10, 30))
    with pytest.raises(QueueError) as info:
        check_in(ctx, early)
    assert info.value.code == APPOINTMENT_TOO_EARLY
    assert check_in(ctx, book(ctx, "im1", local(10, 0)))["number"] == "C001"
    clock.set(local(9, 30))
    assert check_in(ctx, early)["number"] == "C002"


def test_late_appointment_end_of_slot_im2(ctx: HallContext, clock: ManualClock) -> None:
    # im2: 30-minute slots, late once the slot is over, late rule end_of_slot.
    slot9, slot930, slot10, late = (
        book(ctx, "im2", local(9, 0)),
        book(ctx, "im2", local(9, 30)),
        book(ctx, "im2", local(10, 0)),
        book(ctx, "im2", local(9, 0)),
    )
    t = {}
    clock.set(local(9, 0))
    t["D001"] = check_in(ctx, slot9)  # on time
    clock.set(local(9, 20))
    t["D002"] = check_in(ctx, slot930)  # 10 min early for 9:30: allowed (60 min)
    clock.set(local(9, 31))
    t["D003"] = walk_in(ctx, "im2")  # walk-in of the 9:30 slot
    clock.set(local(9, 32))
    t["D004"] = check_in(ctx, slot10)  # early for the 10:00 slot
    clock.set(local(9, 40))
    t["D005"] = check_in(ctx, late)  # 9:00 slot at 9:40: late
    clock.set(local(9, 45))
    t["D006"] = walk_in(ctx, "im2")  # walk-in of the 9:30 slot, after the late patient
    assert [v["number"] for v in t.values()] == list(t)
    assert t["D005"]["late"]

    # D005 goes to the tail of the current (9:30) slot: behind its appointment D002 and all
    # its walk-ins (D003 and D006, though D006 came later), ahead of the 10:00 slot (D004).
    expected = ["D001", "D002", "D003", "D006", "D005", "D004"]
    assert line(ctx, "im2") == expected
    assert ahead(ctx, t) == {"D001": 0, "D002": 1, "D003": 2, "D004": 5, "D005": 4, "D006": 3}
    open_counter(ctx, "room-2")
    assert call_all(ctx, clock, "room-2") == expected


def test_late_appointment_end_of_half_day_im3(ctx: HallContext, clock: ManualClock) -> None:
    # im3: 30-minute slots, no early check-in, late rule end_of_half_day (split 12:00).
    c900, c900_late, c1130, c1200_late = (
        book(ctx, "im3", local(9, 0)),
        book(ctx, "im3", local(9, 0)),
        book(ctx, "im3", local(11, 30)),
        book(ctx, "im3", local(12, 0)),
    )
    t = {}
    clock.set(local(9, 0))
    t["E001"] = check_in(ctx, c900)
    clock.set(local(9, 5))
    t["E002"] = walk_in(ctx, "im3")
    clock.set(local(9, 31))
    t["E003"] = check_in(ctx, c900_late)  # late in the morning: end of the morning
    clock.set(local(9, 40))
    t["E004"] = walk_in(ctx, "im3")
    clock.set(local(11, 29))
    with pytest.raises(QueueError) as info:  # early check-in forbidden
        check_in(ctx, c1130)
    assert info.value.code == APPOINTMENT_TOO_EARLY
    clock.set(local(11, 30))
    t["E005"] = check_in(ctx, c1130)
    clock.set(local(11, 40))
    t["E006"] = walk_in(ctx, "im3")
    clock.set(local(12, 5))
    t["E007"] = walk_in(ctx, "im3")
    clock.set(local(12, 40))
    t["E008"] = check_in(ctx, c1200_late)  # late in the afternoon: end of the day
    clock.set(local(12, 45))
    t["E009"] = walk_in(ctx, "im3")
    assert [v["number"] for v in t.values()] == list(t)
    assert t["E003"]["late"] and t["E008"]["late"] and not t["E005"]["late"]

    # E003 waits until everything of the morning (up to E006 in the 11:30 slot) is done, and
    # goes before the first afternoon walk-in E007. E008 goes behind the whole afternoon.
    expected = ["E001", "E002", "E004", "E005", "E006", "E003", "E007", "E009", "E008"]
    assert line(ctx, "im3") == expected
    assert view_of(ctx, t["E003"]["id"])["people_ahead"] == 5
    assert view_of(ctx, t["E008"]["id"])["people_ahead"] == 8
    open_counter(ctx, "room-3")
    assert call_all(ctx, clock, "room-3") == expected


# ---------------------------------------------------------------- no-show, return, recall


def test_no_show_return_and_second_no_show_blood(ctx: HallContext, clock: ManualClock) -> None:
    # blood: recall rule after_n with N=3, no-show limit 2.
    t = {}
    for i in range(6):
        clock.set(local(9, i))
        v = walk_in(ctx, "blood")
        t[v["number"]] = v
    assert list(t) == ["B001", "B002", "B003", "B004", "B005", "B006"]
    open_counter(ctx, "blood-1")
    clock.set(local(9, 10))
    assert actions.call_next(ctx, "blood-1", STAFF)["ticket"]["number"] == "B001"
    missed = actions.act(ctx, t["B001"]["id"], Action.NO_SHOW, STAFF)
    assert missed["status"] == "no_show" and missed["no_show_count"] == 1
    assert missed["people_ahead"] is None  # out of the line while missing

    # B001 comes back at 9:15: after three on-time patients.
    clock.set(local(9, 15))
    back = actions.act(ctx, t["B001"]["id"], Action.RETURN, STAFF)
    assert back["status"] == "waiting" and back["people_ahead"] == 3 and back["auto_call"]
    assert line(ctx, "blood") == ["B002", "B003", "B004", "B001", "B005", "B006"]

    called = [actions.call_next(ctx, "blood-1", STAFF)["ticket"]["number"] for _ in range(4)]
    assert called == ["B002", "B003", "B004", "B001"]

    # Missed again: after the second no-show it is never auto-called.
    actions.act(ctx, t["B001"]["id"], Action.NO_SHOW, STAFF)
    clock.set(local(9, 30))
    back = actions.act(ctx, t["B001"]["id"], Action.RETURN, STAFF)
    assert back["status"] == "waiting"
    assert back["no_show_count"] == 2
    assert back["auto_call"] is False
    assert back["people_ahead"] is None  # not in the line the rules call
    assert line(ctx, "blood") == ["B005", "B006"]
    assert view_of(ctx, t["B005"]["id"])["people_ahead"] == 0

    assert call_all(ctx, clock, "blood-1") == ["B005", "B006"]
    # staff can still call it by hand
    again = actions.call_ticket(ctx, t["B001"]["id"], "blood-1", STAFF)
    assert again["ticket"]["number"] == "B001" and again["ticket"]["status"] == "called"


def test_recall_end_of_slot_im3(ctx: HallContext, clock: ManualClock) -> None:
    # im3's recall rule is end_of_slot: a returning no-show goes behind the current slot.
    t = {}
    for mm in (0, 1, 2):
        clock.set(local(9, mm))
        v = walk_in(ctx, "im3")
        t[v["number"]] = v
    open_counter(ctx, "room-3")
    assert actions.call_next(ctx, "room-3", STAFF)["ticket"]["number"] == "E001"
    actions.act(ctx, t["E001"]["id"], Action.NO_SHOW, STAFF)
    clock.set(local(9, 10))
    back = actions.act(ctx, t["E001"]["id"], Action.RETURN, STAFF)  # tail of the 9:00 slot
    clock.set(local(9, 20))
    t["E004"] = walk_in(ctx, "im3")  # a 9:00-slot walk-in after the return: still ahead
    clock.set(local(9, 31))
    t["E005"] = walk_in(ctx, "im3")  # 9:30 slot: behind
    # E002 and E003 were pre-called to room-3's door (cap 2) by the first call
    assert line(ctx, "im3") == ["E002", "E003", "E004", "E001", "E005"]
    assert view_of(ctx, back["id"])["people_ahead"] == 3


def test_send_for_tests_and_return_us(ctx: HallContext, clock: ManualClock) -> None:
    # us (ultrasound): recall rule after_n with N=2, no door cap.
    t = {}
    for i in range(5):
        clock.set(local(9, i))
        v = walk_in(ctx, "us")
        t[v["number"]] = v
    open_counter(ctx, "us-1")
    clock.set(local(9, 10))
    assert actions.call_next(ctx, "us-1", STAFF)["ticket"]["number"] == "F001"
    away = actions.act(ctx, t["F001"]["id"], Action.SEND_FOR_TESTS, STAFF)
    assert away["status"] == "on_leave" and away["people_ahead"] is None
    assert "return" in away["allowed_actions"]
    # while F001 is away the counter goes on
    assert actions.call_next(ctx, "us-1", STAFF)["ticket"]["number"] == "F002"

    clock.set(local(9, 40))
    back = actions.act(ctx, t["F001"]["id"], Action.RETURN, STAFF)
    assert back["status"] == "waiting"
    assert back["people_ahead"] == 2  # after F003, F004
    assert back["visit_id"] == t["F001"]["visit_id"] and back["id"] == t["F001"]["id"]
    assert back["number"] == "F001"
    assert call_all(ctx, clock, "us-1") == ["F003", "F004", "F001", "F005"]

    with ctx.db.session() as s:
        log = s.scalars(
            select(TicketEvent.action)
            .where(TicketEvent.ticket_id == t["F001"]["id"])
            .order_by(TicketEvent.id)
        ).all()
    assert log == ["issue", "check_in", "call", "send_for_tests", "return", "call", "finish"]


# ---------------------------------------------------------------- transfer


def test_transfer_front_end_issue_time(ctx: HallContext, clock: ManualClock) -> None:
    # reg tickets moved to the pharmacy keep their visit and their number.
    t = {}
    for mm, service in [(0, "reg"), (1, "reg"), (2, "pharmacy"), (3, "pharmacy")]:
        clock.set(local(9, mm))
        v = walk_in(ctx, service)
        t[v["number"]] = v
    clock.set(local(9, 4))
    t["A003"] = walk_in(ctx, "reg")
    clock.set(local(9, 5))
    t["G003"] = walk_in(ctx, "pharmacy")
    assert sorted(t) == ["A001", "A002", "A003", "G001", "G002", "G003"]

    clock.set(local(9, 10))
    # by original issue time (9:04): between G002 (9:03) and G003 (9:05)
    moved = actions.transfer(ctx, t["A003"]["id"], "pharmacy", "issue_time", STAFF)
    assert line(ctx, "pharmacy") == ["G001", "G002", "A003", "G003"]
    # to the front
    actions.transfer(ctx, t["A001"]["id"], "pharmacy", "front", STAFF)
    assert line(ctx, "pharmacy") == ["A001", "G001", "G002", "A003", "G003"]
    # to the end
    end = actions.transfer(ctx, t["A002"]["id"], "pharmacy", "end", STAFF)
    assert line(ctx, "pharmacy") == ["A001", "G001", "G002", "A003", "G003", "A002"]
    assert end["ticket"]["people_ahead"] == 5

    assert moved["from"]["status"] == "transferred"
    assert moved["ticket"]["number"] == "A003"
    assert moved["ticket"]["service_id"] == "pharmacy"
    assert moved["ticket"]["visit_id"] == t["A003"]["visit_id"]
    assert moved["ticket"]["id"] != t["A003"]["id"]
    assert end["ticket"]["visit_id"] == t["A002"]["visit_id"]
    assert line(ctx, "reg") == []

    # the pharmacy's own numbering is untouched by the transfers
    clock.set(local(9, 11))
    assert walk_in(ctx, "pharmacy")["number"] == "G004"
    assert line(ctx, "pharmacy")[-1] == "G004"

    open_counter(ctx, "pharm-1")
    expected = ["A001", "G001", "G002", "A003", "G003", "A002", "G004"]
    assert call_all(ctx, clock, "pharm-1") == expected


# ---------------------------------------------------------------- priority, weights, door


def test_priority_ratio_at_a_counter(ctx: HallContext, clock: ManualClock) -> None:
    # reg with the demo's 2 priority : 1 normal and the ranked classes.
    kinds = ["normal", "normal", "elderly", "military", "disabled", "normal", "elderly"]
    kinds.append("green_channel")
    t = {}
    for i, kind in enumerate(kinds):
        clock.set(local(9, i))
        v = walk_in(ctx, "reg", kind)
        t[v["number"]] = v
    # A008 green channel first (outside the ratio); then two priority turns by rank - military
    # A004, elderly A003 - then normal A001; then elderly A007, disabled A005; normal A002;
    # no priority left: A006.
    expected = ["A008", "A004", "A003", "A001", "A007", "A005", "A002", "A006"]
    assert line(ctx, "reg") == expected
    assert view_of(ctx, t["A001"]["id"])["people_ahead"] == 3
    open_counter(ctx, "reg-1")
    assert call_all(ctx, clock, "reg-1") == expected


def test_priority_ratio_survives_between_calls(ctx: HallContext, clock: ManualClock) -> None:
    # The fairness cycle is stored: after two priority calls, a newly arrived elderly patient
    # must wait for the normal one already in line.
    for i, kind in enumerate(["normal", "elderly", "elderly"]):
        clock.set(local(9, i))
        walk_in(ctx, "reg", kind)
    open_counter(ctx, "reg-1")
    assert [actions.call_next(ctx, "reg-1", STAFF)["ticket"]["number"] for _ in range(2)] == [
        "A002",
        "A003",
    ]
    clock.set(local(9, 10))
    late_elderly = walk_in(ctx, "reg", "elderly")
    assert late_elderly["number"] == "A004" and late_elderly["people_ahead"] == 1
    assert call_all(ctx, clock, "reg-1") == ["A001", "A004"]


def test_weighted_counter_reg3(ctx: HallContext, clock: ManualClock) -> None:
    # reg-3 serves reg (weight 3) and pharmacy (weight 1): reg reg pharmacy reg, reg ...
    for i in range(4):
        clock.set(local(9, i))
        walk_in(ctx, "reg")
        walk_in(ctx, "pharmacy")
    open_counter(ctx, "reg-3")
    expected = ["A001", "A002", "G001", "A003", "A004", "G002", "G003", "G004"]
    assert call_all(ctx, clock, "reg-3") == expected


def test_green_channel_needs_staff(ctx: HallContext) -> None:
    with pytest.raises(QueueError) as info:
        issuing.issue_ticket(
            ctx,
            service_id="reg",
            actor="device:kiosk-1",
            by_device=True,
            priority="green_channel",
        )
    assert info.value.code == "priority.not_allowed"


def test_door_cap_room1(ctx: HallContext, clock: ManualClock) -> None:
    # room-1 (im1) keeps at most 2 patients pre-called at its door.
    t = {}
    for i in range(5):
        clock.set(local(9, i))
        v = walk_in(ctx, "im1")
        t[v["number"]] = v
    open_counter(ctx, "room-1")
    clock.set(local(9, 10))
    first = actions.call_next(ctx, "room-1", STAFF)
    assert first["ticket"]["number"] == "C001"

    def at_door() -> list[str]:
        with ctx.db.session() as s:
            rows = s.scalars(
                select(Ticket)
                .where(Ticket.precalled_counter == "room-1")
                .order_by(Ticket.precalled_at, Ticket.id)
            ).all()
            return [r.number for r in rows]

    assert at_door() == ["C002", "C003"]
    assert ahead(ctx, {n: t[n] for n in ("C002", "C003", "C004", "C005")}) == {
        "C002": 0,
        "C003": 1,
        "C004": 2,
        "C005": 3,
    }

    # next call: the earliest at the door (C002) is called, C004 tops the door up
    clock.set(local(9, 20))
    second = actions.call_next(ctx, "room-1", STAFF)
    assert second["ticket"]["number"] == "C002"
    assert second["finished"]["number"] == "C001"
    assert at_door() == ["C003", "C004"]

    # paused: the door is kept; closed: the door is released
    actions.set_counter_state(ctx, "room-1", "paused", STAFF)
    with pytest.raises(QueueError) as info:
        actions.call_next(ctx, "room-1", STAFF)
    assert info.value.code == COUNTER_NOT_OPEN
    assert at_door() == ["C003", "C004"]
    actions.set_counter_state(ctx, "room-1", "closed", STAFF)
    assert at_door() == []
    assert line(ctx, "im1") == ["C003", "C004", "C005"]

    with ctx.db.session() as s:
        precalls = s.scalars(
            select(TicketEvent.ticket_id).where(TicketEvent.action == "precall")
        ).all()
    assert sorted(precalls) == sorted([t["C002"]["id"], t["C003"]["id"], t["C004"]["id"]])

    actions.set_counter_state(ctx, "room-1", "open", STAFF)
    assert call_all(ctx, clock, "room-1") == ["C003", "C004", "C005"]


def test_door_keeps_the_rules_order_of_tickets_precalled_together(
    ctx: HallContext, clock: ManualClock
) -> None:
    # im1, 2 priority : 1 normal. C001, C002 normal; C003, C004 elderly. The rules' order is
    # C003, C004, C001, C002. The first call calls C003 and pre-calls C004 then C001 - in the
    # same transaction, at the same moment. C004 must stay ahead of C001 at the door.
    for i, kind in enumerate(["normal", "normal", "elderly", "elderly"]):
        clock.set(local(9, i))
        walk_in(ctx, "im1", kind)
    assert line(ctx, "im1") == ["C003", "C004", "C001", "C002"]
    open_counter(ctx, "room-1")
    clock.set(local(9, 10))
    assert actions.call_next(ctx, "room-1", STAFF)["ticket"]["number"] == "C003"
    assert line(ctx, "im1") == ["C004", "C001", "C002"]
    assert call_all(ctx, clock, "room-1") == ["C004", "C001", "C002"]


def test_after_n_with_tickets_issued_at_one_moment(ctx: HallContext, clock: ManualClock) -> None:
    # Five kiosk taps in one instant (the clock does not move): their keys are still distinct,
    # so the returning no-show B001 lands exactly after 3 on-time patients (blood recall_n = 3).
    tickets = [walk_in(ctx, "blood") for _ in range(5)]
    assert [t["number"] for t in tickets] == ["B001", "B002", "B003", "B004", "B005"]
    open_counter(ctx, "blood-1")
    assert actions.call_next(ctx, "blood-1", "user:nurse")["ticket"]["number"] == "B001"
    actions.act(ctx, tickets[0]["id"], Action.NO_SHOW, "user:nurse")
    actions.act(ctx, tickets[0]["id"], Action.RETURN, "user:nurse")
    assert line(ctx, "blood") == ["B002", "B003", "B004", "B001", "B005"]
