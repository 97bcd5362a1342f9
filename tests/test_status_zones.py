"""`status` shows the time zone a sync kept for each athlete while their activities are still
those it was counted from, and counts again whoever changed since: the same as counting afresh."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from runstrong_sync.connectors.formats import read_activity_file
from sqlalchemy import delete

from runstrong_sync import athletes, tzdetect
from runstrong_sync.cli import cli
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Activity
from runstrong_sync.storage import repo, squad
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import StateRow
from tests.support import FIXTURES

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
NEW_YORK_RUN = FIXTURES / "labelled" / "easy-club.fit"  # written with local time = UTC-5
KEYS = ("tokyo", "paris", "files")


def _config(tmp_path: Path, url: str) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path / "data"),
            "database": {"url": url},
            "sources": {"fit": {"enabled": False}},
        }
    )


def _run() -> Activity:
    path = NEW_YORK_RUN
    return read_activity_file(path.read_bytes(), path.name, str(path), ZoneInfo("Europe/Berlin")).activities[
        0
    ]


def _strava(run: Activity, n: int, zone: str) -> Activity:
    return replace(
        run,
        source="strava",
        source_ref=f"{zone}{n}",
        external_id=f"{zone}{n}",
        start_utc=NOW - timedelta(days=n),
        raw={"timezone": f"(GMT+01:00) {zone}"},
    )


def _squad(db: Database) -> dict[str, int]:
    run = _run()
    ids = {}
    with db.transaction() as session:
        for key in KEYS:
            ids[key] = repo.ensure_athlete(session, key, key, NOW).id
        for n in range(6):
            repo.upsert_activity(session, ids["tokyo"], _strava(run, n, "Asia/Tokyo"), NOW)
            repo.upsert_activity(session, ids["paris"], _strava(run, n, "Europe/Paris"), NOW)
            when = NOW - timedelta(days=n)
            own = replace(run, external_id=f"f{n}", start_utc=when, elapsed_s=run.elapsed_s + n)
            repo.upsert_activity(session, ids["files"], own, NOW)
    return ids


def _fresh(db: Database, ids: dict[str, int], zone: ZoneInfo) -> dict[int, Any]:
    with db.transaction() as session:
        return athletes.observed_zones(session, list(ids.values()), [zone])


def _shown(db: Database, ids: dict[str, int], zone: ZoneInfo) -> dict[int, Any]:
    key = athletes.ZONE_SAMPLE_KEY
    with db.transaction() as session:
        known = squad.facts(session, list(ids.values()), [key])
        stored = {i: (known[i].states.get(key), known[i].fingerprint) for i in ids.values()}
        return athletes.squad_zones(session, [(i, zone) for i in ids.values()], stored)


def test_stored_zones_are_shown_while_current_and_counted_again_when_not(
    database_url: str, tmp_path: Path
) -> None:
    config = _config(tmp_path, database_url)
    berlin = ZoneInfo("Europe/Berlin")
    db = open_database(database_url)
    try:
        ids = _squad(db)
        for athlete in ids.values():  # what a sync keeps once its activities are in
            athletes.warn_zone_mismatch_once(db, athlete, config, NOW)
        with db.transaction() as session:
            kept = {k: repo.get_state(session, i, athletes.ZONE_SAMPLE_KEY) for k, i in ids.items()}
        assert all(kept.values())
        assert _shown(db, ids, berlin) == _fresh(db, ids, berlin)
        assert _shown(db, ids, berlin)[ids["tokyo"]].strava == (("Asia/Tokyo", 6),)

        # tokyo runs twice more in Paris; paris's newest Strava copy is replaced by its file
        run = _run()
        with db.transaction() as session:
            for n in (-2, -1):
                repo.upsert_activity(session, ids["tokyo"], _strava(run, n, "Europe/Paris"), NOW)
            newest = replace(run, start_utc=NOW, external_id="file-of-paris0")
            repo.upsert_activity(session, ids["paris"], newest, NOW)
        shown, fresh = _shown(db, ids, berlin), _fresh(db, ids, berlin)
        assert shown == fresh
        assert fresh[ids["tokyo"]].strava == (("Europe/Paris", 2), ("Asia/Tokyo", 6))
        assert fresh[ids["paris"]].with_offset == 1  # the merge changed what the sample says
        with db.transaction() as session:  # showing stored nothing
            assert {k: repo.get_state(session, i, athletes.ZONE_SAMPLE_KEY) for k, i in ids.items()} == kept

        # another zone checked than the one kept: counted again
        tokyo = ZoneInfo("Asia/Tokyo")
        assert _shown(db, ids, tokyo) == _fresh(db, ids, tokyo)
    finally:
        db.dispose()


def _status(tmp_path: Path, url: str) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{url}"\n[sources.fit]\nenabled = false\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--today", "2026-11-25", "status", "--json"], env={"RUNSTRONG_CONFIG": str(config), "TZ": "UTC"}
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _as_status_runs(tmp_path: Path, url: str) -> Config:
    """A configuration whose zone checked is UTC, as for `status` in _status (no zone, TZ=UTC)."""
    config = _config(tmp_path, url)
    return config.model_copy(update={"athlete": config.athlete.model_copy(update={"time_zone": "UTC"})})


def _zones(tmp_path: Path, url: str) -> dict[str, Any]:
    return {a["key"]: a["time_zone"] for a in _status(tmp_path, url)["athletes"]}


def test_status_with_stored_zones_is_status_counted_afresh(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    try:
        ids = _squad(db)
        for athlete in ids.values():
            athletes.warn_zone_mismatch_once(db, athlete, _as_status_runs(tmp_path, database_url), NOW)
        with db.transaction() as session:  # one athlete changed since their zone was kept
            repo.upsert_activity(session, ids["files"], _strava(_run(), 9, "Asia/Tokyo"), NOW)
    finally:
        db.dispose()
    kept = _status(tmp_path, database_url)
    zones = {a["key"]: a["time_zone"] for a in kept["athletes"]}
    assert zones["tokyo"] == {"zone": "Asia/Tokyo", "source": tzdetect.STRAVA, "mismatch": None}
    assert zones["files"]["zone"] == "Asia/Tokyo"  # from the activity stored since
    db = open_database(database_url)
    try:
        with db.transaction() as session:
            session.execute(delete(StateRow).where(StateRow.key == athletes.ZONE_SAMPLE_KEY))
    finally:
        db.dispose()
    assert _status(tmp_path, database_url) == kept


def test_a_deleted_activity_whose_id_comes_back_is_counted_again(database_url: str, tmp_path: Path) -> None:
    """SQLite gives the next activity the id of the newest one deleted: the deletion keeps the
    zone again, so an activity stored in its place never passes for the one that was there."""
    run = _run()
    db = open_database(database_url)
    try:
        _squad(db)
        with db.transaction() as session:
            solo = repo.ensure_athlete(session, "solo", "solo", NOW).id
            stored = repo.upsert_activity(session, solo, _strava(run, 3, "Asia/Tokyo"), NOW)
        athletes.warn_zone_mismatch_once(db, solo, _as_status_runs(tmp_path, database_url), NOW)
    finally:
        db.dispose()
    config = tmp_path / "config.toml"
    assert _zones(tmp_path, database_url)["solo"]["zone"] == "Asia/Tokyo"
    result = CliRunner().invoke(
        cli,
        ["--athlete", "solo", "activities", "delete", str(stored.activity_id), "--yes"],
        env={"RUNSTRONG_CONFIG": str(config), "TZ": "UTC"},
    )
    assert result.exit_code == 0, result.output
    db = open_database(database_url)
    try:
        with db.transaction() as session:  # the same run, named in Paris this time
            again = repo.upsert_activity(session, solo, _strava(run, 3, "Europe/Paris"), NOW)
    finally:
        db.dispose()
    if database_url.startswith("sqlite"):
        assert again.activity_id == stored.activity_id  # the id came back
    shown = _status(tmp_path, database_url)
    assert _zones(tmp_path, database_url)["solo"]["zone"] == "Europe/Paris"
    db = open_database(database_url)
    try:
        with db.transaction() as session:
            session.execute(delete(StateRow).where(StateRow.key == athletes.ZONE_SAMPLE_KEY))
    finally:
        db.dispose()
    assert _status(tmp_path, database_url) == shown
