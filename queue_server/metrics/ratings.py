"""Satisfaction (满意度): one 1-5 rating per visit, after its service is done.

The rating is tied to the visit's last ticket (the service, counter and staff that served it),
given on the phone follow page (the follow token is the secret) or at a kiosk. Nothing about
the patient is stored: the visit id, the ticket it rates, the score.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import NOT_FOUND, VALIDATION, QueueError
from ..domain.tickets import Action, Status
from ..persistence.models import Ticket, TicketEvent, Visit
from ..persistence.models_metrics import Rating
from ..services.context import HallContext

log = logging.getLogger(__name__)

ALREADY_RATED = "rating.already_given"
NOT_SERVED = "rating.not_served"
#: HTTP status of the rating codes (registered with the API's error map).
STATUS = {ALREADY_RATED: 409, NOT_SERVED: 409}
SOURCES = ("phone", "kiosk")


def check_score(score: Any) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise QueueError(VALIDATION, "score must be a whole number from 1 to 5", field="score")
    return score


def _visit(s: Session, token: str) -> Visit:
    visit = s.scalars(select(Visit).where(Visit.follow_token == token)).one_or_none()
    if visit is None:
        raise QueueError(NOT_FOUND, "unknown or expired follow link / 找不到此号票")
    return visit


def _last_ticket(s: Session, visit: Visit) -> Ticket | None:
    return s.scalars(
        select(Ticket).where(Ticket.visit_id == visit.id).order_by(Ticket.id.desc()).limit(1)
    ).one_or_none()


def state(ctx: HallContext, token: str) -> dict[str, Any]:
    """Whether this visit can be rated now, and the score if it was."""

    def work(s: Session) -> dict[str, Any]:
        visit = _visit(s, token)
        given = s.scalars(select(Rating).where(Rating.visit_id == visit.id)).one_or_none()
        t = _last_ticket(s, visit)
        done = t is not None and t.status == Status.DONE
        return {
            "can_rate": given is None and done,
            "rated": given is not None,
            "score": given.score if given else None,
            "served": done,
        }

    return ctx.db.run(work)


def rate(ctx: HallContext, token: str, score: Any, source: str) -> dict[str, Any]:
    """Record the visit's rating; refused before service ends and the second time."""
    score = check_score(score)
    if source not in SOURCES:
        raise QueueError(VALIDATION, "source must be phone or kiosk", field="source")

    def work(s: Session) -> dict[str, Any]:
        visit = _visit(s, token)
        if s.scalars(select(Rating.id).where(Rating.visit_id == visit.id)).first() is not None:
            raise QueueError(ALREADY_RATED, "this visit has been rated / 本次就诊已评价")
        t = _last_ticket(s, visit)
        if t is None or t.status != Status.DONE:
            raise QueueError(NOT_SERVED, "rate after your service is done / 服务结束后才能评价")
        staff = s.scalars(
            select(TicketEvent.actor)
            .where(TicketEvent.ticket_id == t.id, TicketEvent.action == Action.CALL.value)
            .order_by(TicketEvent.id.desc())
            .limit(1)
        ).first()
        rating = Rating(
            visit_id=visit.id,
            ticket_id=t.id,
            business_day=t.business_day,
            service_id=t.service_id,
            counter_id=t.counter_id,
            staff=staff,
            score=score,
            source=source,
            created_at=ctx.now(),
        )
        s.add(rating)
        s.flush()
        return {
            "score": score,
            "service_id": t.service_id,
            "counter_id": t.counter_id,
            "thanks": {"zh": "感谢您的评价", "en": "Thank you for your rating"},
        }

    try:
        out = ctx.db.run(work)
    except IntegrityError:  # two taps raced: the unique visit_id keeps one
        raise QueueError(ALREADY_RATED, "this visit has been rated / 本次就诊已评价") from None
    log.info("rating %d for %s (%s)", out["score"], out["service_id"], source)
    return out
