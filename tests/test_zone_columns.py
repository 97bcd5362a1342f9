"""What the time-zone detection reads lives in columns beside the raw payload: filled by every
connector, backfilled by migration 0009 from the payloads stored before, and counted by the
database for a whole squad with the same result as looking at each activity."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from runstrong_sync.connectors.formats import read_activity_file
from runstrong_sync.connectors.garmin import GarminConnector
from runstrong_sync.connectors.garmin_api import TOKENS_KEY, sign_in
from sqlalchemy import inspect, select, text

from runstrong_sync import athletes, pipeline, tzdetect
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Activity
from runstrong_sync.storage import repo
from runstrong_sync.storage import squad as squad_facts
from runstrong_sync.storage.db import Database, alembic_config, migration_engine, open_database
from runstrong_sync.storage.models import ActivityRow
from tests import strava_helpers
from tests.fakegarmin import GarminFake, State, add_demo, demo_fit_files
from tests.fakestrava import FakeStrava, serve
from tests.support import FIT, FIXTURES

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
NEW_YORK_RUN = FIXTURES / "labelled" / "easy-club.fit"  # written with local time = UTC-5
GPX = FIT / "gpx_tcx" / "garmin_example.gpx"  # no local time of its own
BEFORE = "0008_garmin"
BATCH = 2000  # the migration's batch size
ROWS = 2 * BATCH + 100  # rows stored before it: three batches


def _config(tmp_path: Path, url: str, **sources: Any) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path / "data"),
            "database": {"url": url},
            "sources": {"fit": {"enabled": False}, **sources},
        }
    )


def _stored(db: Database) -> list[tuple[str, int, dict[str, Any], str | None, int | None]]:
    with db.transaction() as session:
        rows = session.scalars(select(ActivityRow).order_by(ActivityRow.id)).all()
        return [(r.source, r.utc_offset_s, r.raw_json, r.time_zone, r.file_offset_s) for r in rows]


def _read(path: Path) -> Activity:
    return read_activity_file(path.read_bytes(), path.name, str(path), ZoneInfo("Europe/Berlin")).activities[
        0
    ]


# --- every connector fills them ---------------------------------------------------------------------


def test_files_with_their_own_local_time_give_their_offset(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(NEW_YORK_RUN, folder / NEW_YORK_RUN.name)
    shutil.copy(GPX, folder / GPX.name)
    config = _config(tmp_path, database_url)
    db = open_database(database_url)
    try:
        athlete = pipeline.athlete_id(db, config, NOW)
        report = pipeline.import_paths(db, athlete, config, [folder], NOW)
        assert report.created == 2, report
        stored = {raw.get("offset_from"): (zone, offset, utc) for _, utc, raw, zone, offset in _stored(db)}
        assert stored["file"] == (None, -5 * 3600, -5 * 3600)  # the FIT file's own local time
        assert stored[None][:2] == (None, None)  # the GPX's offset is only the configured zone's
    finally:
        db.dispose()


@pytest.fixture
def strava() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


def test_strava_activities_give_stravas_zone(tmp_path: Path, strava: FakeStrava) -> None:
    strava_helpers.history(strava, 3)
    config = strava_helpers.make_config(tmp_path, strava)
    db = strava_helpers.connect(config, strava)
    try:
        assert strava_helpers.sync(db, config, strava).report.created == 3
        stored = _stored(db)
        assert len(stored) == 3
        for source, _, raw, zone, offset in stored:
            assert raw["timezone"] == "(GMT-08:00) America/Los_Angeles"
            assert (source, zone, offset) == ("strava", "America/Los_Angeles", None)
    finally:
        db.dispose()


def test_garmin_downloads_give_their_files_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GarminFake(tmp_path, State()) as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)
        config = _config(tmp_path, f"sqlite:///{tmp_path / 'runstrong.sqlite'}", garmin={"enabled": True})
        tokens, who = sign_in(fake.state.email, fake.state.password, lambda: "unused")
        db = open_database(config.database_url)
        try:
            athlete = pipeline.athlete_id(db, config, NOW)
            with db.transaction() as session:
                repo.set_state(session, athlete, TOKENS_KEY, {"tokens": tokens, **who}, NOW)
            files = demo_fit_files()[-3:]
            add_demo(fake, files)
            context = pipeline.make_context(db, athlete, config, NOW)
            report = pipeline.ingest(db, athlete, "garmin", GarminConnector(config).fetch(context), NOW)
            assert report.created == 3
            stored = _stored(db)
            assert [s[0] for s in stored] == ["garmin"] * 3
            for _, utc_offset, raw, zone, offset in stored:
                assert raw["offset_from"] == "file"
                assert (zone, offset) == (None, utc_offset)
        finally:
            db.dispose()


def test_strava_copy_replaced_by_the_file_takes_the_files_values(database_url: str, tmp_path: Path) -> None:
    run = _read(NEW_YORK_RUN)
    from_strava = replace(
        run, source="strava", source_ref="77", external_id="77", raw={"timezone": "(GMT+09:00) Asia/Tokyo"}
    )
    db = open_database(database_url)
    try:
        athlete = pipeline.athlete_id(db, _config(tmp_path, database_url), NOW)
        with db.transaction() as session:
            repo.upsert_activity(session, athlete, from_strava, NOW)
        assert [s[3:] for s in _stored(db)] == [("Asia/Tokyo", None)]
        with db.transaction() as session:  # the richer file arrives: one activity, the file's values
            repo.upsert_activity(session, athlete, run, NOW)
        assert [s[3:] for s in _stored(db)] == [(None, -5 * 3600)]
    finally:
        db.dispose()


# --- migration 0009 --------------------------------------------------------------------------------


def _migrate(db: Database, revision: str, *, down: bool = False) -> None:
    """As the application migrates: the whole step in one transaction."""
    config = alembic_config(db.engine)
    ddl = migration_engine(db.engine)
    try:
        with ddl.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        if ddl is not db.engine:
            ddl.dispose()


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("activities")}


def _stored_before(db: Database, tmp_path: Path) -> None:
    """Four kinds of activity stored by today's code, then the schema taken back to 0008 and the
    rows copied until they span three of the migration's batches."""
    run = _read(NEW_YORK_RUN)
    kinds = [
        run,
        replace(_read(GPX), external_id="gpx"),
        replace(run, source="strava", external_id="1", raw={"timezone": "(GMT+09:00) Asia/Tokyo"}),
        replace(run, source="strava", external_id="2", raw={"timezone": "(GMT+00:00) Nowhere/Land"}),
    ]
    with db.transaction() as session:
        athlete = repo.ensure_athlete(session, "default", "", NOW).id
        for n, activity in enumerate(kinds):  # a day apart: never taken for the same run
            repo.upsert_activity(session, athlete, replace(activity, start_utc=NOW - timedelta(days=n)), NOW)
    _migrate(db, BEFORE, down=True)
    assert not {"time_zone", "file_offset_s"} & _columns(db)
    names = [c for c in _columns(db) if c != "id"]
    columns = ", ".join(names)
    copy = text(f"INSERT INTO activities ({columns}) SELECT {columns} FROM activities ORDER BY id LIMIT :n")
    with db.engine.begin() as connection:
        while (count := connection.execute(text("SELECT count(*) FROM activities")).scalar_one()) < ROWS:
            connection.execute(copy, {"n": min(count, ROWS - count)})


def test_migration_fills_the_columns_from_the_stored_payloads(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    try:
        _stored_before(db, tmp_path)
        _migrate(db, "head")
        stored = _stored(db)
        assert len(stored) == ROWS
        found = set()
        for source, utc_offset, raw, zone, offset in stored:  # every row, in every batch
            assert (zone, offset) == tzdetect.zone_columns(source, utc_offset, raw)
            found.add((source if source == "strava" else raw.get("offset_from"), zone, offset))
        assert found == {
            ("file", None, -5 * 3600),
            (None, None, None),
            ("strava", "Asia/Tokyo", None),
            ("strava", None, None),  # Strava named no zone we know
        }
        assert "ix_activities_zone" in {i["name"] for i in inspect(db.engine).get_indexes("activities")}
    finally:
        db.dispose()


def test_a_failed_backfill_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'runstrong.sqlite'}")
    try:
        _stored_before(db, tmp_path)
        with db.engine.begin() as connection:  # one payload past the first batch cannot be read
            connection.execute(
                text("UPDATE activities SET raw_json = '{' WHERE id = :id"), {"id": BATCH + 50}
            )
        with pytest.raises(ValueError):
            _migrate(db, "head")
        assert not {"time_zone", "file_offset_s"} & _columns(db)
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == BEFORE
    finally:
        db.dispose()


# --- counted by the database, as if each activity were looked at ------------------------------------


def test_offset_periods_give_the_zones_offset_at_every_moment() -> None:
    chances = random.Random(13)
    for name in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo", "UTC"):
        zone = ZoneInfo(name)
        start = datetime(2019, 3, 2, 17, 5, tzinfo=UTC)
        end = datetime(2026, 11, 1, tzinfo=UTC)
        periods = tzdetect.offset_periods(zone, start, end)
        for _ in range(3000):
            when = start + (end - start) * chances.random()
            offset = next(o for since, o in reversed(periods) if when >= since)
            assert offset == _offset(zone, when), (name, when)


def _offset(zone: ZoneInfo, when: datetime) -> int:
    offset = when.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _by_hand(
    activities: list[Activity], zones: list[ZoneInfo]
) -> tuple[list[tuple[str, int]], int, dict[str, int]]:
    newest = sorted(activities, key=lambda a: a.start_utc, reverse=True)[: athletes.TIME_ZONE_SAMPLE]
    strava: dict[str, int] = {}
    offsets = []
    for a in newest:
        zone, offset = tzdetect.zone_columns(a.source, a.utc_offset_s, a.raw)
        if zone is not None:
            strava[zone] = strava.get(zone, 0) + 1
        if offset is not None:
            offsets.append((a.start_utc, offset))
    agreeing = {z.key: sum(offset == _offset(z, s) for s, offset in offsets) for z in zones}
    return list(strava.items()), len(offsets), agreeing


def test_the_squads_counts_are_each_activitys(database_url: str, tmp_path: Path) -> None:
    """Runs on both sides of many clock changes, near them, some with a wrong offset, more than the
    sample; Strava's zones with a tie. The database's counts are the ones made run by run."""
    chances = random.Random(5)
    run = _read(NEW_YORK_RUN)
    zones = [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("UTC")]
    changes = tzdetect.offset_periods(zones[0], datetime(2024, 1, 1, tzinfo=UTC), NOW)[1:]
    squad: dict[str, list[Activity]] = {"near": [], "far": [], "strava": []}
    for n, (since, _) in enumerate(changes):
        for step in (-2, -1, 0, 1):  # seconds around the change
            start = since + timedelta(seconds=step)
            near = replace(
                run, start_utc=start, utc_offset_s=_offset(zones[0], start), raw={"offset_from": "file"}
            )
            # seconds apart, but not the same run: their lengths differ
            squad["near"].append(
                replace(near, external_id=f"{n}:{step}", elapsed_s=run.elapsed_s * (3 + step))
            )
    for n in range(260):
        start = NOW - timedelta(hours=37 * n, seconds=chances.randrange(0, 3600))
        offset = chances.choice([3600, 7200, -18000, -14400, 0])
        raw = {"offset_from": chances.choice(["file", "file", "zone"])}
        squad["far"].append(replace(run, start_utc=start, utc_offset_s=offset, external_id=str(n), raw=raw))
    for n, name in enumerate(["Asia/Tokyo", "Europe/Paris", "Europe/Paris", "Asia/Tokyo", "Nowhere/Land"]):
        raw = {"timezone": f"(GMT+01:00) {name}"}
        start = NOW + timedelta(hours=1) - timedelta(days=n)  # hours from any of the runs above
        squad["strava"].append(replace(run, source="strava", start_utc=start, external_id=f"s{n}", raw=raw))
    squad["strava"] += [replace(a, external_id=f"f{a.external_id}") for a in squad["far"][:40]]
    # The sample ends inside 25 runs started at the same moment: which of them are in goes by id.
    squad["ties"] = [replace(a, external_id=f"t{a.external_id}") for a in squad["far"][:190]]
    for n in range(25):
        offset = 3600 if n % 3 else 7200
        tied = replace(
            run, start_utc=NOW - timedelta(days=400), utc_offset_s=offset, raw={"offset_from": "file"}
        )
        squad["ties"].append(replace(tied, external_id=f"tie{n}", elapsed_s=run.elapsed_s * 1.1**n))
    # Two Strava zones first named at the same moment, as often as each other: the first stored wins.
    squad["same"] = []
    for n, (name, days) in enumerate(
        [("Asia/Tokyo", 0), ("Europe/Paris", 0), ("Asia/Tokyo", 1), ("Europe/Paris", 2)]
    ):
        raw = {"timezone": f"(GMT+01:00) {name}"}
        start = NOW - timedelta(days=days)
        squad["same"].append(replace(run, source="strava", start_utc=start, external_id=f"z{n}", raw=raw))
    db = open_database(database_url)
    try:
        ids = {}
        with db.transaction() as session:
            for key, activities in squad.items():
                ids[key] = repo.ensure_athlete(session, key, key, NOW).id
                for activity in activities:
                    repo.upsert_activity(session, ids[key], activity, NOW)
            counts = squad_facts.activity_counts(session, list(ids.values()))
            assert [counts[ids[k]] for k in squad] == [len(a) for a in squad.values()]  # none merged
        with db.transaction() as session:
            counted = athletes.observed_zones(session, list(ids.values()), zones)
        for key, activities in squad.items():
            strava, with_offset, agreeing = _by_hand(activities, zones)
            seen = counted[ids[key]]
            assert (list(seen.strava), seen.with_offset, dict(seen.agreeing)) == (
                strava,
                with_offset,
                agreeing,
            )
        assert counted[ids["strava"]].strava[:2] == (("Asia/Tokyo", 2), ("Europe/Paris", 2))
        newest_of_equals = tzdetect.choose(None, counted[ids["strava"]], None)
        assert newest_of_equals.name == "Asia/Tokyo"
        assert tzdetect.choose(None, counted[ids["same"]], None).name == "Asia/Tokyo"  # stored first
    finally:
        db.dispose()
