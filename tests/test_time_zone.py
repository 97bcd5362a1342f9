"""The runner's time zone when none is configured: Strava's, else the machine's (checked against
the FIT files' own local times); `zones` and `status` say which and where it came from."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from runstrong_sync.connectors.formats import read_activity_file

from runstrong_sync import tzdetect
from runstrong_sync.pipeline import DEFAULT_ATHLETE, ingest
from runstrong_sync.sources import Imported
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.support import FIXTURES, free_port, run_cli

NEW_YORK_RUN = FIXTURES / "labelled" / "easy-club.fit"  # written with local time = UTC-5


@pytest.fixture
def no_zone(env: Path, tmp_path: Path) -> Path:
    """The same isolated install, with a configuration that names no time zone."""
    (tmp_path / "config.toml").write_text(f"[server]\nport = {free_port()}\n", encoding="utf-8")
    return env


def _zone_row() -> dict[str, object]:
    result = run_cli("zones", "--json")
    assert result.exit_code == 0, result.output
    return next(z for z in json.loads(result.output) if z["name"] == "time_zone")


def _status_zone() -> dict[str, object]:
    result = run_cli("status", "--json")
    assert result.exit_code == 0, result.output
    zone: dict[str, object] = json.loads(result.output)["athletes"][0]["time_zone"]
    return zone


def _import(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(NEW_YORK_RUN, folder / NEW_YORK_RUN.name)
    assert run_cli("import", str(folder)).exit_code == 0


def test_strava_timezone_names_the_zone(no_zone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")  # the machine says otherwise: Strava wins
    assert run_cli("zones").exit_code == 0  # creates the database
    activity = read_activity_file(NEW_YORK_RUN.read_bytes(), "a.fit", "a", ZoneInfo("UTC")).activities[0]
    strava = replace(
        activity,
        source="strava",
        source_ref="77",
        external_id="77",
        raw={"id": 77, "timezone": "(GMT+09:00) Asia/Tokyo"},
    )
    db = open_database(f"sqlite:///{no_zone / 'runstrong.sqlite'}")
    with db.transaction() as session:
        athlete = repo.ensure_athlete(session, DEFAULT_ATHLETE, "", datetime(2026, 1, 1, tzinfo=UTC)).id
    ingest(db, athlete, "strava", [Imported(strava)], datetime(2026, 2, 1, tzinfo=UTC))
    db.dispose()
    row = _zone_row()
    assert (row["value"], row["source"]) == ("Asia/Tokyo", tzdetect.STRAVA)
    assert _status_zone()["zone"] == "Asia/Tokyo"
    shown = run_cli("status").output
    assert "time zone: Asia/Tokyo (from the time zone Strava gives your activities)" in shown


def test_the_machine_zone_confirmed_by_the_fit_files(
    no_zone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    _import(tmp_path)
    row = _zone_row()
    assert (row["value"], row["source"]) == ("America/New_York", tzdetect.SYSTEM_CONFIRMED)
    assert _status_zone() == {
        "zone": "America/New_York",
        "source": tzdetect.SYSTEM_CONFIRMED,
        "mismatch": None,
    }
    assert "time zone: America/New_York (from this machine's time zone, which" in run_cli("zones").output
    # Sessions are planned in that zone: every start carries New York's offset.
    plan = json.loads(run_cli("--today", "2026-01-06", "plan", "--json").output)
    assert plan and all(s["start"].endswith("-05:00") for s in plan)


def test_the_machine_zone_when_the_files_disagree(
    no_zone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    _import(tmp_path)
    row = _zone_row()
    assert (row["value"], row["source"]) == ("Asia/Tokyo", tzdetect.SYSTEM_UNCONFIRMED)


def test_neither_strava_nor_files_the_machine_zone(no_zone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Lisbon")
    row = _zone_row()
    assert (row["value"], row["source"]) == ("Europe/Lisbon", tzdetect.SYSTEM)
    monkeypatch.setenv("TZ", "Etc/UTC")
    assert _zone_row()["value"] == "UTC"


def test_a_configured_zone_wins_and_a_mismatch_is_warned_once(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(NEW_YORK_RUN, folder / NEW_YORK_RUN.name)
    imported = run_cli("import", str(folder))  # a New York run, with Europe/Berlin configured
    assert imported.exit_code == 0
    warning = "athlete.time_zone is Europe/Berlin, but the local times"
    assert " ".join(imported.output.split()).count(warning) == 1
    row = _zone_row()
    assert (row["value"], row["source"]) == ("Europe/Berlin", tzdetect.CONFIGURED)
    assert row["method"] == "the local times in your FIT files do not match it"
    for _ in range(2):
        again = run_cli("sync")
        assert again.exit_code == 0 and "athlete.time_zone is" not in again.output


def test_strava_zone_names_and_system_zone() -> None:
    assert tzdetect.strava_zone_name("(GMT+05:30) Asia/Kolkata") == "Asia/Kolkata"
    assert tzdetect.strava_zone_name("(GMT+00:00) Nowhere/Land") is None
    assert tzdetect.strava_zone_name(None) is None
    assert tzdetect.system_zone({"TZ": ":Europe/Rome"}) == ZoneInfo("Europe/Rome")
    assert tzdetect.system_zone({"TZ": "/etc/passwd"}) is None
