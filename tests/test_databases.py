"""Storage and the pipeline on each database: SQLite always, PostgreSQL when .ci/run starts one."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import select

from runstrong_sync import athletes, pipeline, planning
from runstrong_sync.config import Config
from runstrong_sync.storage import repo, runs
from runstrong_sync.storage.db import alembic_config, open_database, table_names
from runstrong_sync.storage.models import ActivityRow, SessionRow
from tests.support import FIT

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
RUNS = (
    "running/activity-small-fenix2-run.fit",
    "running/2019-09-14-17-22-05.fit",
    "running/run_with_coordinates.fit",
)


def _config(tmp_path: Path, url: str, inbox: Path | None) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin", "max_hr": 190, "threshold_hr": 170},
            "data_dir": str(tmp_path / "data"),
            "database": {"url": url},
            # Files in the test inbox are complete: no wait for them to settle.
            "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0} if inbox else {"enabled": False}},
        }
    )


def _inbox(folder: Path, names: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(FIT / name, folder / Path(name).name)
    return folder


def test_migrations_run_up_down_and_up_again(database_url: str) -> None:
    db = open_database(database_url)
    expected = {"activities", "activity_sources", "athletes", "rejections", "state", "strength_sessions"}
    assert expected | {"sync_runs", "alembic_version"} <= set(table_names(db.engine))
    config = alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not expected & set(table_names(db.engine))
    db.dispose()
    db = open_database(database_url)  # upgrades again
    assert expected <= set(table_names(db.engine))
    db.dispose()


def test_sync_stores_once_records_runs_and_keeps_athletes_apart(database_url: str, tmp_path: Path) -> None:
    inbox = _inbox(tmp_path / "inbox", RUNS)
    config = _config(tmp_path, database_url, inbox)
    db = open_database(database_url)
    try:
        report = pipeline.sync(config, db, now=NOW)
        assert report.exit_status == 0
        assert report.sources[0].created == len(RUNS)
        assert sorted(p.name for p in (inbox / "archive").iterdir()) == sorted(Path(n).name for n in RUNS)

        # The same files again, under the second athlete: stored for them, not shared.
        other_inbox = _inbox(tmp_path / "anna-inbox", RUNS[:1])
        anna = {"sources": {"fit": {"inbox": str(other_inbox), "settle_seconds": 0}}}
        athletes.add(db, config, "anna", "Anna", anna, NOW)
        reports = pipeline.sync_all(config, db, now=NOW + timedelta(hours=1))
        assert [r.athlete for r in reports] == ["default", "anna"]
        assert [s.created for s in reports[1].sources] == [1]
        again = pipeline.sync(config, db, now=NOW + timedelta(hours=2))
        assert [s.created for s in again.sources] == [0]

        with db.transaction() as session:
            anna = athletes.require(session, "anna")
            default = athletes.require(session, "default")
            per_athlete = {
                a.key: len(session.scalars(select(ActivityRow).where(ActivityRow.athlete_id == a.id)).all())
                for a in (anna, default)
            }
            uids = {
                a.key: {
                    r.uid
                    for r in session.scalars(select(SessionRow).where(SessionRow.athlete_id == a.id)).all()
                }
                for a in (anna, default)
            }
            health = {h.source: h for h in runs.source_health(session, default.id)}
        assert per_athlete == {"anna": 1, "default": len(RUNS)}
        assert uids["anna"] and uids["default"] and not uids["anna"] & uids["default"]
        assert all(u.startswith("anna-") for u in uids["anna"])
        assert health["pipeline"].last_outcome == "ok" and health["fit"].last_outcome == "ok"
        assert health["pipeline"].last_success == NOW + timedelta(hours=2)

        anna_feed = (config.resolved_data_dir / "feeds" / "anna.ics").read_text(encoding="utf-8")
        default_feed = config.feed_path.read_text(encoding="utf-8")
        assert not any(uid in default_feed for uid in uids["anna"])
        assert not any(uid in anna_feed for uid in uids["default"])

        assert athletes.remove(db, "anna") == 1
        with db.transaction() as session:
            assert len(session.scalars(select(ActivityRow)).all()) == len(RUNS)
            assert repo.get_state(session, anna.id, planning.PLAN_NOTES_KEY) is None
    finally:
        db.dispose()
