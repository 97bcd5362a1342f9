"""The cross-source match stores one run once, and never merges two activities of one source."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runstrong_sync.core.domain import Activity
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database

NOW = datetime(2026, 11, 25, tzinfo=UTC)
RUN = Activity(
    source="strava",
    source_ref="101",
    external_id="101",
    sport="run",
    start_utc=datetime(2026, 11, 20, 7, 0, tzinfo=UTC),
    utc_offset_s=3600,
    elapsed_s=3000,
    moving_s=2900,
    distance_m=10_000,
)


def test_same_run_from_a_file_is_one_activity_and_two_from_one_source_stay_two(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with db.transaction() as session:
        athlete = repo.ensure_athlete(session, "default", "Runner", NOW).id
        first = repo.upsert_activity(session, athlete, RUN, NOW)
        twin = replace(
            RUN, external_id="102", source_ref="102", start_utc=RUN.start_utc + timedelta(seconds=30)
        )
        second = repo.upsert_activity(session, athlete, twin, NOW)
        from_file = replace(
            RUN, source="fit", external_id="garmin-1-2:0", source_ref="/x.fit", elapsed_s=3050
        )
        third = repo.upsert_activity(session, athlete, from_file, NOW, fingerprint="ab" * 32)
    assert first.outcome is repo.Outcome.CREATED
    assert second.outcome is repo.Outcome.CREATED and second.activity_id != first.activity_id
    assert third.outcome is repo.Outcome.UPDATED and third.activity_id == first.activity_id
    with db.transaction() as session:
        rows = repo.activity_rows(session, athlete)
        kept = next(r for r in rows if r.id == first.activity_id)
        assert kept.source == "fit"  # the richer source's detail wins
        assert sorted(s.source for s in kept.sources) == ["fit", "strava"]
    db.dispose()


def test_schema_changes_roll_back_with_their_transaction(tmp_path: Path) -> None:
    """A migration killed half-way must leave no half-made schema (the sqlite3 module would
    otherwise commit each CREATE TABLE on its own)."""
    import pytest
    from sqlalchemy import inspect

    from runstrong_sync.storage.db import migration_engine

    db = open_database(f"sqlite:///{tmp_path / 'ddl.sqlite'}", migrate=False)
    with pytest.raises(RuntimeError), migration_engine(db.engine).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE half_made (x INTEGER)")
        raise RuntimeError("crash in the middle of a migration")
    assert "half_made" not in inspect(db.engine).get_table_names()
    db.dispose()
