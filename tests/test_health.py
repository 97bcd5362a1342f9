"""The sync-health event: one clearly titled event when the last sync is too old or Strava needs
the runner; none when all is well."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from icalendar import Calendar

from runstrong_sync import health, pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage import runs
from runstrong_sync.storage.db import open_database

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _facts(source: str, last_success_days_ago: float | None, outcome: str = "ok") -> health.SourceHealth:
    success = NOW - timedelta(days=last_success_days_ago) if last_success_days_ago is not None else None
    return health.SourceHealth(
        source=source,
        first_started=NOW - timedelta(days=30),
        last_started=NOW - timedelta(hours=2),
        last_outcome=outcome,
        last_message="Strava said 401" if outcome == "reauthorize" else None,
        last_success=success,
    )


def test_fresh_syncs_give_no_notice() -> None:
    facts = [_facts("pipeline", 0.5), _facts("fit", 0.5)]
    assert health.sync_notice(facts, NOW, timedelta(hours=48)) is None
    assert health.sync_notice([], NOW, timedelta(hours=48)) is None


def test_stale_sync_names_its_age_and_what_to_do() -> None:
    notice = health.sync_notice([_facts("pipeline", 3), _facts("fit", 0.2)], NOW, timedelta(hours=48))
    assert notice is not None and notice.kind == "stale"
    assert notice.title == "runstrong-sync: last sync 3 days ago — check `runstrong-sync status`"
    stale_strava = health.sync_notice(
        [_facts("pipeline", 0.1), _facts("strava", 5, "failed")], NOW, timedelta(hours=48)
    )
    assert stale_strava is not None and "Strava 5 days ago" in stale_strava.title
    assert "outcome: failed" in stale_strava.description


def test_reauthorization_wins_over_staleness() -> None:
    facts = [_facts("pipeline", 4), _facts("strava", 4, "reauthorize")]
    notice = health.sync_notice(facts, NOW, timedelta(hours=48))
    assert notice is not None and notice.kind == "reauthorize"
    assert notice.title == "Strava needs re-authorization — run `runstrong-sync strava auth`"


def test_event_is_all_day_free_and_moves_in_place() -> None:
    notice = health.Notice("stale", "runstrong-sync: last sync 3 days ago", "details")
    first = health.notice_event(notice, "sync-health-1@runstrong-sync", NOW, date(2026, 11, 25))
    later = health.notice_event(notice, "sync-health-1@runstrong-sync", NOW + DAY, date(2026, 11, 26))
    assert first["uid"] == later["uid"]
    assert later["sequence"] > first["sequence"]
    assert first.decoded("dtstart") == date(2026, 11, 25)
    assert str(first["transp"]) == "TRANSPARENT"


def _health_events(feed: Path) -> list[str]:
    calendar = Calendar.from_ical(feed.read_bytes())
    return [str(e["summary"]) for e in calendar.walk("VEVENT") if str(e["uid"]).startswith("sync-health-")]


def test_feed_carries_the_notice_only_while_it_applies(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path),
            "sources": {"fit": {"enabled": False}, "strava": {"enabled": True}},
            "feed": {"stale_after_hours": 48},
        }
    )
    db = open_database(config.database_url)
    try:
        pipeline.sync(config, db, now=NOW, sources=[])
        assert _health_events(config.feed_path) == []  # the sync that writes the feed is fresh itself
        athlete = pipeline.athlete_id(db, config, NOW)

        # Nobody synced for three days: whoever writes the feed now (the server, `feed`) warns.
        later = NOW + 3 * DAY
        publishing.publish(db, athlete, config, later)
        assert _health_events(config.feed_path) == [
            "runstrong-sync: last sync 3 days ago — check `runstrong-sync status`"
        ]

        # Strava refused the token in the last run: the feed asks for re-authorization.
        with db.transaction() as session:
            run = runs.start(session, athlete, "strava", later)
            runs.finish(session, run, "reauthorize", later, {"exit_status": int(ExitStatus.REAUTHORIZE)})
        publishing.publish(db, athlete, config, later)
        assert _health_events(config.feed_path) == [
            "Strava needs re-authorization — run `runstrong-sync strava auth`"
        ]

        # A good Strava run and a fresh sync: the notice is gone.
        with db.transaction() as session:
            run = runs.start(session, athlete, "strava", later + DAY)
            runs.finish(session, run, "ok", later + DAY)
        pipeline.sync(config, db, now=later + DAY, sources=[])
        assert _health_events(config.feed_path) == []

        # Strava turned off: its old troubles no longer show; one-off imports never go stale.
        with db.transaction() as session:
            run = runs.start(session, athlete, "strava", later + DAY)
            runs.finish(session, run, "reauthorize", later + DAY)
            run = runs.start(session, athlete, "import", NOW)
            runs.finish(session, run, "ok", NOW)
        publishing.publish(db, athlete, config, later + DAY)
        assert len(_health_events(config.feed_path)) == 1
        without_strava = config.model_copy(
            update={
                "sources": config.sources.model_copy(
                    update={"strava": config.sources.strava.model_copy(update={"enabled": False})}
                )
            }
        )
        publishing.publish(db, athlete, without_strava, later + DAY)
        assert _health_events(config.feed_path) == []
    finally:
        db.dispose()


def test_a_source_needing_reauthorization_is_recorded_and_the_rest_goes_on(tmp_path: Path) -> None:
    from runstrong_sync.errors import RunstrongError

    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path),
            "sources": {"fit": {"enabled": False}, "strava": {"enabled": True}},
        }
    )
    db = open_database(config.database_url)
    try:
        athlete = pipeline.athlete_id(db, config, NOW)
        report = pipeline.SyncReport()

        def refused() -> list[pipeline.SourceEvent]:
            raise RunstrongError("Strava refused the refresh token.", exit_status=ExitStatus.REAUTHORIZE)

        result = pipeline._run_source(db, athlete, "strava", refused, pipeline.SyncRequest(now=NOW), report)
        assert result.created == 0
        assert report.exit_status == ExitStatus.REAUTHORIZE
        with db.transaction() as session:
            facts = {f.source: f for f in runs.source_health(session, athlete)}
        assert facts["strava"].last_outcome == "reauthorize"
        assert facts["strava"].last_message == "Strava refused the refresh token."
        # The next sync still runs, and its feed tells the runner.
        later = pipeline.sync(config, db, now=NOW + DAY, sources=[])
        assert later.exit_status == ExitStatus.OK
        assert _health_events(config.feed_path) == [
            "Strava needs re-authorization — run `runstrong-sync strava auth`"
        ]
    finally:
        db.dispose()


def test_worst_status_names_what_to_act_on_first() -> None:
    assert pipeline.worst_status([]) == ExitStatus.OK
    assert (
        pipeline.worst_status([ExitStatus.REJECTED_INPUT, ExitStatus.RATE_LIMITED]) == ExitStatus.RATE_LIMITED
    )
    assert pipeline.worst_status([ExitStatus.RATE_LIMITED, ExitStatus.REAUTHORIZE]) == ExitStatus.REAUTHORIZE
    assert pipeline.worst_status([ExitStatus.REAUTHORIZE, ExitStatus.DATABASE]) == ExitStatus.DATABASE
