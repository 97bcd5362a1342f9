"""Gather what the week view shows from storage."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from runstrong_sync.config import Config
from runstrong_sync.pipeline import PLAN_NOTES_KEY
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import Athlete, SyncRunRow
from runstrong_sync.weekview import LOAD_WEEKS, Health, WeekView, build_week_view

SUCCESS_OUTCOMES = ("ok", "success", "rejected_input")


def sync_health(db: Database, athlete: int, config: Config, now: datetime) -> Health:
    with db.transaction() as session:
        runs = session.scalars(
            select(SyncRunRow)
            .where(SyncRunRow.athlete_id == athlete, SyncRunRow.finished_at.is_not(None))
            .order_by(SyncRunRow.finished_at.desc())
            .limit(20)
        ).all()
        reauth = repo.get_state(session, athlete, "strava.reauthorize")
    if reauth:
        return Health(False, "Strava needs you to authorize again: run `runstrong-sync strava auth`.")
    if not runs:
        return Health(False, "No sync has been recorded yet: run `runstrong-sync sync`.")
    success = next((r for r in runs if r.outcome in SUCCESS_OUTCOMES), None)
    last = runs[0]
    if success is None or success.finished_at is None:
        return Health(False, f"The last sync ended with '{last.outcome}'; no successful sync is recorded.")
    age = now - success.finished_at
    ago = _ago(age)
    if age > timedelta(hours=config.feed.stale_after_hours):
        return Health(
            False,
            f"The last successful sync was {ago}: check the cron job or the daemon.",
            success.finished_at,
        )
    if last.outcome not in SUCCESS_OUTCOMES:
        return Health(
            False,
            f"The last sync ended with '{last.outcome}'; the one before succeeded {ago}.",
            success.finished_at,
        )
    return Health(True, f"Synced {ago}.", success.finished_at)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 2:
        return "just now"
    if minutes < 120:
        return f"{minutes} minutes ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hours ago"
    return f"{hours // 24} days ago"


def load_week_view(db: Database, athlete: int, config: Config, now: datetime) -> WeekView:
    zone = config.athlete.zone
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    since = datetime.combine(monday - timedelta(weeks=LOAD_WEEKS), datetime.min.time(), tzinfo=zone)
    with db.transaction() as session:
        activities = repo.labelled_activities(session, athlete, since)
        sessions = repo.load_sessions(session, athlete)
        notes = repo.get_state(session, athlete, PLAN_NOTES_KEY) or {}
        row = session.get(Athlete, athlete)
        name = row.name if row is not None else config.athlete.name
    return build_week_view(
        athlete=name,
        today=today,
        activities=activities,
        sessions=[s for s in sessions if s.start.astimezone(zone).date() >= monday],
        expected_runs=notes.get("runs", []),
        day_notes=notes.get("days", {}),
        week_notes=notes.get("weeks", {}),
        health=sync_health(db, athlete, config, now),
    )


def athlete_for_token(db: Database, token: str) -> int | None:
    """The athlete whose feed token this is; every stored token is compared in constant time."""
    with db.transaction() as session:
        rows = session.execute(select(Athlete.id, Athlete.feed_token)).all()
    found = None
    for athlete_id, stored in rows:
        if hmac.compare_digest(stored.encode(), token.encode()):
            found = athlete_id
    return found


def week_resolver(
    db: Database,
    config: Config,
    clock: Callable[[], datetime],
    athlete_for: Callable[[str], int | None] | None = None,
) -> Callable[[str, str], tuple[WeekView, str] | None]:
    """(token, request base URL) -> (the athlete's week view, their feed URL), for page_routes.

    The feed URL uses ``server.public_url`` when set, since behind a proxy the request's own
    address is not the one calendars can reach."""
    find = athlete_for or (lambda token: athlete_for_token(db, token))

    def resolve(token: str, base_url: str) -> tuple[WeekView, str] | None:
        athlete = find(token)
        if athlete is None:
            return None
        view = load_week_view(db, athlete, config, clock())
        base = (config.server.public_url or base_url).rstrip("/")
        return view, f"{base}/feed/{token}/strength.ics"

    return resolve
