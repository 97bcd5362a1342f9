"""Zones from config, Strava or history; relabelling from stored numbers; overrides that stick."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from runstrong_sync.domain import ZoneSource, ZoneValue
from runstrong_sync.zones import estimate_zones, resolve_zones, zones_from_strava
from tests.runs import run
from tests.support import FIT, run_cli

STRAVA = {
    "heart_rate": {
        "custom_zones": True,
        "zones": [
            {"min": 0, "max": 125},
            {"min": 125, "max": 145},
            {"min": 145, "max": 160},
            {"min": 160, "max": 172},
            {"min": 172, "max": -1},
        ],
    }
}


def test_strava_zones_give_threshold_hr() -> None:
    zones = zones_from_strava(STRAVA)
    assert zones.threshold_hr == ZoneValue(
        172, ZoneSource.STRAVA, "lower bound of your custom Strava Anaerobic zone"
    )
    assert zones.max_hr is None
    for bad in (None, {}, {"heart_rate": {"zones": [{"min": 1}]}}, {"heart_rate": {"zones": "x"}}):
        assert zones_from_strava(bad).threshold_hr is None  # type: ignore[arg-type]


def test_config_beats_strava_beats_history() -> None:
    history = [run([(25 * 60, 3.8, 176.0)]), run([(40 * 60, 2.9, 150.0)]), run([(30 * 60, 3.0, 182.0)])]
    estimated = estimate_zones(history)
    assert estimated.threshold_hr is not None and estimated.threshold_hr.source is ZoneSource.ESTIMATED
    assert estimated.threshold_hr.value == round(0.95 * 182)
    strava = zones_from_strava(STRAVA)
    both = resolve_zones(strava=strava, history=history)
    assert both.threshold_hr is not None and both.threshold_hr.source is ZoneSource.STRAVA
    assert both.max_hr is not None and both.max_hr.source is ZoneSource.ESTIMATED
    configured = resolve_zones(threshold_hr=165, strava=strava, history=history)
    assert configured.threshold_hr == ZoneValue(
        165, ZoneSource.CONFIG, "athlete.threshold_hr in the configuration"
    )


def _import(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    for name in ("synthetic/synthetic_easy.fit", "running/compressed-speed-distance.fit"):
        shutil.copy(FIT / name, folder / Path(name).name)
    assert run_cli("import", str(folder)).exit_code == 0
    return folder


def _activities() -> dict[str, dict[str, object]]:
    items = json.loads(run_cli("activities", "--json").output)
    return {Path(str(i["source_ref"])).name: i for i in items}


def _write_config(env: Path, threshold_hr: int) -> None:
    config = Path(str(env.parent / "config.toml"))
    config.write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_hr = {threshold_hr}\nmax_hr = 190\n',
        encoding="utf-8",
    )


def test_reclassify_after_changing_zones_reads_no_file(env: Path, tmp_path: Path) -> None:
    _write_config(env, 170)
    folder = _import(tmp_path)
    before = _activities()
    assert before["synthetic_easy.fit"]["label"] == "easy"
    assert before["compressed-speed-distance.fit"]["label"] == "hard"
    item = before["compressed-speed-distance.fit"]
    assert {"label", "confidence", "uncertain", "overridden", "reasons", "reason_codes"} <= set(item)
    assert str(item["reasons"][0]).startswith("hard: ")  # type: ignore[index]

    shutil.rmtree(folder)  # relabelling must not need the files
    _write_config(env, 140)  # a much lower threshold: the easy run is now above it
    zones = json.loads(run_cli("zones", "--json").output)
    threshold = next(z for z in zones if z["name"] == "threshold_hr")
    assert threshold == {
        "name": "threshold_hr",
        "value": 140.0,
        "source": "config",
        "method": "athlete.threshold_hr in the configuration",
    }
    result = run_cli("reclassify")
    assert result.exit_code == 0 and "labels changed: " in result.output
    assert _activities()["synthetic_easy.fit"]["label"] == "hard"


def test_override_sticks_across_reimport_and_relabelling(env: Path, tmp_path: Path) -> None:
    _write_config(env, 170)
    folder = _import(tmp_path)
    easy_id = int(str(_activities()["synthetic_easy.fit"]["id"]))
    assert run_cli("label", str(easy_id), "hard").exit_code == 0
    assert run_cli("import", str(folder)).exit_code == 0
    assert run_cli("reclassify").exit_code == 0
    item = _activities()["synthetic_easy.fit"]
    assert item["label"] == "hard" and item["overridden"] is True
    assert item["reasons"] == ["hard: set by you"]
    assert run_cli("label", str(easy_id), "auto").exit_code == 0
    assert _activities()["synthetic_easy.fit"]["label"] == "easy"


def test_zones_command_shows_strava_zones_when_nothing_is_configured(env: Path) -> None:
    from datetime import UTC, datetime

    from runstrong_sync.pipeline import DEFAULT_ATHLETE, STRAVA_ZONES_KEY
    from runstrong_sync.storage import repo
    from runstrong_sync.storage.db import open_database

    assert run_cli("zones").exit_code == 0  # creates the database
    db = open_database(f"sqlite:///{env / 'runstrong.sqlite'}")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        athlete = repo.ensure_athlete(session, DEFAULT_ATHLETE, "", now)
        repo.set_state(session, athlete.id, STRAVA_ZONES_KEY, STRAVA, now)
    db.dispose()
    zones = {z["name"]: z for z in json.loads(run_cli("zones", "--json").output)}
    assert zones["threshold_hr"]["value"] == 172.0
    assert zones["threshold_hr"]["source"] == "strava"
    assert zones["max_hr"]["value"] is None


def test_sync_relabels_old_runs_when_the_zones_change(env: Path, tmp_path: Path) -> None:
    _write_config(env, 170)
    _import(tmp_path)
    assert _activities()["synthetic_easy.fit"]["label"] == "easy"  # a run from 2024: outside the window
    assert run_cli("sync").exit_code == 0
    assert _activities()["synthetic_easy.fit"]["label"] == "easy"
    _write_config(env, 140)
    assert run_cli("sync").exit_code == 0
    assert _activities()["synthetic_easy.fit"]["label"] == "hard"
