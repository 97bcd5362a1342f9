"""Zones from config, Strava or history; relabelling from stored numbers; overrides that stick."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

from runstrong_sync.core.domain import Activity, ZoneSource, ZoneValue
from runstrong_sync.core.zones import estimate_zones, resolve_zones, zones_from_strava
from tests.runs import START, run
from tests.support import FIT, ROOT, run_cli

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


def _history() -> list[Activity]:
    """Five easy runs and two hard ones: the hard ones are clearly above the runner's usual."""
    easy = [run([(40 * 60, 2.9, 140.0 + i)], start=START + timedelta(days=2 * i)) for i in range(5)]
    hard = [
        run([(25 * 60, 3.8, 176.0)], start=START + timedelta(days=11)),
        run([(30 * 60, 3.9, 182.0)], start=START + timedelta(days=13)),
    ]
    return [*easy, *hard]


def test_config_beats_strava_beats_history() -> None:
    history = _history()
    estimated = estimate_zones(history)
    assert estimated.threshold_hr is not None and estimated.threshold_hr.source is ZoneSource.ESTIMATED
    assert estimated.threshold_hr.value == round(0.95 * 182)
    assert not estimated.threshold_hr.thin  # two hard efforts
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

    from runstrong_sync.athletes import DEFAULT_ATHLETE
    from runstrong_sync.labelling import STRAVA_ZONES_KEY
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


def test_an_easy_only_history_gives_no_estimate_and_one_effort_a_thin_one() -> None:
    easy = [run([(40 * 60, 2.9, 140.0 + i)], start=START + timedelta(days=2 * i)) for i in range(6)]
    nothing = estimate_zones(easy)
    assert nothing.threshold_hr is None and nothing.max_hr is None and nothing.threshold_speed_mps is None
    one_tempo = [*easy, run([(25 * 60, 3.9, 168.0)], start=START + timedelta(days=13))]
    thin = estimate_zones(one_tempo)
    assert thin.threshold_hr is not None and thin.threshold_hr.thin
    assert thin.threshold_hr.value == round(0.95 * 168) and "1 hard run" in thin.threshold_hr.method


def test_a_label_resting_on_a_thin_estimate_stays_below_the_line() -> None:
    from runstrong_sync.core.classify import classify
    from runstrong_sync.core.domain import Zones

    thin = Zones(
        threshold_hr=ZoneValue(146, ZoneSource.ESTIMATED, "0.95 x best 20-min HR of 1 hard run", True)
    )
    long_slow = run([(60 * 60, 2.0, 150.0)])  # 60 min at 103% of a too-low estimate
    result = classify(long_slow, thin)
    assert result.label.value == "hard" and result.confidence < 0.5 and result.uncertain
    assert any(r.code == "thin_estimate" and "thin estimate" in r.text for r in result.reasons)
    solid = Zones(threshold_hr=ZoneValue(146, ZoneSource.ESTIMATED, "0.95 x best 20-min HR of 2 races"))
    assert classify(long_slow, solid).confidence >= 0.5


def test_zones_shows_the_thresholds_over_time(env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    runners = ROOT / "fixtures" / "labelled_runners"
    for path in sorted(runners.glob("improver-*.fit")):
        shutil.copy(path, folder / path.name)
    assert run_cli("import", str(folder)).exit_code == 0
    shown = run_cli("zones").output
    assert "Thresholds over time" in shown
    rows = [
        line for line in shown.splitlines() if line.startswith(("│ 2024-", "│ 2025-", "| 2024-", "| 2025-"))
    ]
    assert len(rows) >= 4, shown
    assert "best 20-min speed of" in shown


def test_configured_thresholds_count_from_the_day_they_were_set(env: Path, tmp_path: Path) -> None:
    """[[athlete.earlier]]: the threshold HR that held before a date judges the runs before it."""
    _import(tmp_path)  # synthetic_easy.fit is a run of 2024
    config = env.parent / "config.toml"
    config.write_text(
        '[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_hr = 170\nmax_hr = 190\n'
        "[[athlete.earlier]]\nuntil = 2025-01-01\nthreshold_hr = 140\n",
        encoding="utf-8",
    )
    assert run_cli("reclassify").exit_code == 0
    item = _activities()["synthetic_easy.fit"]
    assert item["label"] == "hard"  # judged with the 140 of its time, not today's 170
    assert "threshold HR (133 bpm)" in " ".join(item["reasons"])  # type: ignore[arg-type]  # 95% of 140
    config.write_text(
        '[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_hr = 170\nmax_hr = 190\n'
        "[[athlete.earlier]]\nuntil = 2020-01-01\nthreshold_hr = 140\n",
        encoding="utf-8",
    )
    assert run_cli("sync").exit_code == 0  # the dates changed: every run is relabelled
    assert _activities()["synthetic_easy.fit"]["label"] == "easy"
    shown = run_cli("zones").output
    assert "Thresholds over time" in shown and "140 (config)" in shown and "170 (config)" in shown
