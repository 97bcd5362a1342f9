"""Gather what the week view shows from storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from runstrong_sync import athletes, health
from runstrong_sync.config import Config
from runstrong_sync.core.weekview import LOAD_WEEKS, Health, WeekView, build_week_view
from runstrong_sync.planning import PLAN_NOTES_KEY
from runstrong_sync.sources import enabled_sources
from runstrong_sync.storage import repo, runs
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import Athlete


def sync_health(db: Database, athlete: int, config: Config, now: datetime) -> Health:
    """The same verdict as the feed's health event and `status`, in a sentence."""
    watched = {runs.PIPELINE, *enabled_sources(config)}
    with db.transaction() as session:
        facts = [f for f in runs.source_health(session, athlete) if f.source in watched]
    pipeline_facts = next((f for f in facts if f.source == runs.PIPELINE), None)
    if pipeline_facts is None:
        return Health(False, "No sync has been recorded yet: run `runstrong-sync sync`.")
    notice = health.sync_notice(facts, now, timedelta(hours=config.feed.stale_after_hours))
    last = pipeline_facts.last_success
    if notice is not None:
        return Health(False, notice.title, last)
    ago = health.age_text(now - last) + " ago" if last is not None else "not yet"
    return Health(True, f"Last successful sync {ago}.", last)


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


def week_resolver(
    db: Database,
    config: Config,
    clock: Callable[[], datetime],
    key_for: Callable[[str], str | None],
) -> Callable[[str, str], tuple[WeekView, str] | None]:
    """(token, request base URL) -> (the athlete's week view, their feed URL), for page_routes.

    ``key_for`` is the feed server's constant-time token check. Each athlete's own settings
    apply. The feed URL uses ``server.public_url`` when set, since
    behind a proxy the request's own address is not the one calendars can reach."""

    def resolve(token: str, base_url: str) -> tuple[WeekView, str] | None:
        key = key_for(token)
        if key is None:
            return None
        now = clock()
        athlete, athlete_config = athletes.config_for(db, config, key, now)
        view = load_week_view(db, athlete, athlete_config, now)
        base = (config.server.public_url or base_url).rstrip("/")
        return view, f"{base}/feed/{token}/strength.ics"

    return resolve
