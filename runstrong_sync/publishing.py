"""Publishing, the pipeline's publish stage: the feeds (strength sessions, and when enabled the runs
and busy-only feeds) built from what is stored and written atomically, with the sync-health notice
when the last sync is too old. The `feed` and `serve` commands and the feed server use it alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runstrong_sync import health
from runstrong_sync.athletes import local_day
from runstrong_sync.config import Config
from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.errors import RunstrongError
from runstrong_sync.fileio import write_atomic
from runstrong_sync.sources import enabled_sources
from runstrong_sync.storage import feedstate, repo, runs
from runstrong_sync.storage.db import Database

if TYPE_CHECKING:  # feed writing (icalendar) is imported where used
    from runstrong_sync.feed import FeedSettings


def feed_settings(config: Config) -> FeedSettings:
    from runstrong_sync.feed import FeedSettings

    f = config.feed
    return FeedSettings(
        name=f.name,
        time_zone=config.athlete.time_zone,
        refresh_minutes=f.refresh_minutes,
        past_weeks=f.past_weeks,
        future_weeks=f.future_weeks,
        all_day=f.all_day,
        busy=f.busy,
        alarm_minutes=f.alarm_minutes,
    )


def stored_sessions(db: Database, athlete: int, since: datetime | None = None) -> list[StrengthSession]:
    with db.transaction() as session:
        return repo.load_sessions(session, athlete, since)


def feed_files(config: Config, path: Path | None = None) -> dict[str, Path]:
    """The feed files by name (strength, runs, busy); the optional ones sit beside the main one."""
    main = path or config.feed_path
    files = {"strength": main}
    if config.feed.runs_feed:
        files["runs"] = main.with_name(f"{main.stem}-runs{main.suffix or '.ics'}")
    if config.feed.busy_only_feed:
        files["busy"] = main.with_name(f"{main.stem}-busy{main.suffix or '.ics'}")
    return files


def health_events(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    *,
    ignore: Sequence[str] = (),
    today: date | None = None,
) -> list[Any]:
    """The sync-health event for the feed, when the last sync is too old or Strava needs the runner."""
    watched = {runs.PIPELINE, *enabled_sources(config)}  # not one-off imports, not sources turned off
    with db.transaction() as session:
        facts = [f for f in runs.source_health(session, athlete) if f.source in watched]
    stale_after = timedelta(hours=config.feed.stale_after_hours)
    notice = health.sync_notice(facts, now, stale_after, ignore=ignore)
    if notice is None:
        return []
    today = today or local_day(config, now)
    with db.transaction() as session:
        uid = f"sync-health-{athlete}-{feedstate.uid_part(session)}@runstrong-sync"
    return [health.notice_event(notice, uid, now, today)]


def runs_feed(db: Database, athlete: int, config: Config, now: datetime) -> bytes:
    """The runs feed; a run whose label, title or description changed gets a higher SEQUENCE."""
    from runstrong_sync.feed import RunStamp, build_runs_feed, run_content_hash

    since = now - timedelta(weeks=config.feed.past_weeks + 1)
    with db.transaction() as session:
        labelled = [i for i in repo.labelled_activities(session, athlete, since) if i.activity.is_run]
        contents = {item.id: run_content_hash(item) for item in labelled}
        stamps = feedstate.run_stamps(session, athlete, labelled, contents, now)
    today = now.astimezone(config.athlete.zone).date()
    return build_runs_feed(
        labelled, feed_settings(config), today, {k: RunStamp(*v) for k, v in stamps.items()}
    )


def publish(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    path: Path | None = None,
    *,
    ignore_health_of: Sequence[str] = (),
    today: date | None = None,
) -> tuple[Path, bool]:
    """Write every enabled feed atomically; returns the main feed's path and whether it changed."""
    from runstrong_sync.feed import build_busy_feed, build_feed

    files = feed_files(config, path)
    today = today or local_day(config, now)
    settings = feed_settings(config)
    sessions = stored_sessions(db, athlete, now - timedelta(weeks=config.feed.past_weeks, days=2))
    extra = health_events(db, athlete, config, now, ignore=ignore_health_of, today=today)
    try:
        changed = write_atomic(files["strength"], build_feed(sessions, settings, today, extra))
        if "busy" in files:
            write_atomic(files["busy"], build_busy_feed(sessions, settings, today))
        if "runs" in files:
            write_atomic(files["runs"], runs_feed(db, athlete, config, now))
    except OSError as exc:
        raise RunstrongError(
            f"The feed {files['strength']} could not be written: {exc.strerror or exc}. "
            "The previous feed is still there, unchanged.",
            ["Free some space on that disk (or fix its permissions), then run `runstrong-sync sync` again."],
        ) from exc
    return files["strength"], changed
