"""What the planner keeps per athlete between runs: a pause, the first planned week, and the
number of strength sessions done (beginners move on after enough of them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runstrong_sync.core.domain import STRENGTH_SPORTS
from runstrong_sync.storage import repo
from runstrong_sync.storage.models import ActivityRow

PAUSE_KEY = "plan.pause"
ANCHOR_KEY = "plan.anchor"


@dataclass(frozen=True, slots=True)
class Pause:
    since: date
    until: date | None  # None: until `resume`


def get_pause(session: Session, athlete: int) -> Pause | None:
    value = repo.get_state(session, athlete, PAUSE_KEY) or {}
    if not value.get("since"):
        return None
    until = value.get("until")
    return Pause(date.fromisoformat(value["since"]), date.fromisoformat(until) if until else None)


def set_pause(session: Session, athlete: int, pause: Pause | None, now: datetime) -> None:
    value = (
        {}
        if pause is None
        else {"since": pause.since.isoformat(), "until": pause.until.isoformat() if pause.until else None}
    )
    repo.set_state(session, athlete, PAUSE_KEY, value, now)


def get_anchor(session: Session, athlete: int) -> date | None:
    value = repo.get_state(session, athlete, ANCHOR_KEY) or {}
    return date.fromisoformat(value["monday"]) if value.get("monday") else None


def set_anchor(session: Session, athlete: int, monday: date, now: datetime) -> None:
    repo.set_state(session, athlete, ANCHOR_KEY, {"monday": monday.isoformat()}, now)


def strength_done(session: Session, athlete: int) -> int:
    """Strength activities recorded: sessions the runner completed."""
    query = select(func.count()).where(
        ActivityRow.athlete_id == athlete, ActivityRow.sport.in_(sorted(STRENGTH_SPORTS))
    )
    return int(session.scalar(query) or 0)
