"""Per-athlete settings: laid over the file's, except what is one person's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from runstrong_sync import athletes
from runstrong_sync.config import Config
from runstrong_sync.errors import ConfigError


@pytest.fixture
def file_config(tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "data_dir": str(tmp_path),
            "athlete": {
                "name": "Coach",
                "time_zone": "Europe/Berlin",
                "max_hr": 190,
                "threshold_pace": "4:00",
            },
            "planner": {"max_sessions": 2, "min_sessions": 1},
            "sources": {
                "fit": {"inbox": str(tmp_path / "coach-inbox")},
                "strava": {"enabled": True, "client_id": "4242", "client_secret": "s3cret"},
            },
            "feed": {"path": str(tmp_path / "coach.ics"), "name": "Squad strength"},
        }
    )


def test_default_athlete_runs_with_the_file_as_it_is(file_config: Config) -> None:
    config = athletes.effective_config(file_config, "default", "Coach", {})
    assert config.model_dump() == file_config.model_dump()


def test_other_athletes_never_inherit_personal_parts(file_config: Config, tmp_path: Path) -> None:
    config = athletes.effective_config(file_config, "anna", "Anna", {"athlete": {"resting_hr": 45}})
    assert config.athlete.name == "Anna"
    assert config.athlete.max_hr is None and config.athlete.threshold_pace is None
    assert config.athlete.resting_hr == 45
    assert config.athlete.time_zone == "Europe/Berlin"  # shared defaults still apply
    assert config.sources.fit.inbox is None and config.sources.strava.enabled is False
    assert config.sources.strava.client_id == "4242"  # the app's credentials are shared
    assert config.planner.max_sessions == 2
    assert config.feed.name == "Squad strength"
    assert config.feed_path == tmp_path / "feeds" / "anna.ics"  # never the coach's feed file


def test_their_own_settings_win_and_are_checked(file_config: Config, tmp_path: Path) -> None:
    settings = {
        "sources": {"fit": {"inbox": str(tmp_path / "anna")}, "strava": {"enabled": True}},
        "planner": {"max_sessions": 3},
        "feed": {"path": str(tmp_path / "anna.ics")},
    }
    config = athletes.effective_config(file_config, "anna", "Anna", settings)
    assert config.sources.fit.inbox == tmp_path / "anna" and config.sources.strava.enabled
    assert config.planner.max_sessions == 3 and config.feed_path == tmp_path / "anna.ics"
    with pytest.raises(ConfigError, match=r"athlete 'anna'.*") as bad:
        athletes.effective_config(file_config, "anna", "Anna", {"athlete": {"max_hr": 400}})
    assert any("athlete.max_hr" in p for p in bad.value.problems)
    with pytest.raises(ConfigError, match="unknown section"):
        athletes.effective_config(file_config, "anna", "Anna", {"database": {"url": "sqlite://"}})
    with pytest.raises(ConfigError, match="not usable"):
        athletes.check_key("Anna Smith")
