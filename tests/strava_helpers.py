"""Shared set-up for the Strava tests: a connected database and one sync run through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from runstrong_sync.connectors.strava import StravaConnector
from runstrong_sync.connectors.strava_http import TOKENS_KEY

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import ActivityRow
from tests.fakestrava import FakeStrava, make_activity

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def make_config(tmp_path: Path, fake: FakeStrava, **strava: Any) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin", "threshold_pace": "4:15"},
            "data_dir": str(tmp_path / "data"),
            "database": {"url": f"sqlite:///{tmp_path / 'runstrong.sqlite'}"},
            "feed": {"path": str(tmp_path / "feed.ics")},
            "sources": {
                "fit": {"enabled": False},
                "strava": {
                    "enabled": True,
                    "client_id": fake.client_id,
                    "client_secret": fake.client_secret,
                    "api_base_url": fake.url,
                    **strava,
                },
            },
        }
    )


def connect(config: Config, fake: FakeStrava, **grant: Any) -> Database:
    """A database that `strava auth` has already connected."""
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        repo.set_state(session, athlete, TOKENS_KEY, fake.grant(**grant), NOW)
    return db


@dataclass
class Run:
    report: pipeline.SourceReport
    connector: StravaConnector
    requests: int  # API requests the fake server saw during the run


def sync(
    db: Database,
    config: Config,
    fake: FakeStrava,
    *,
    now: datetime = NOW,
    since: date | None = None,
    **connector: Any,
) -> Run:
    """One Strava run through the pipeline's ingest stage (each event in its own transaction)."""
    athlete = pipeline.athlete_id(db, config, now)
    connector.setdefault("sleep", lambda s: None)
    connector.setdefault("clock", fake.clock)
    strava = StravaConnector(config, **connector)
    context = pipeline.make_context(db, athlete, config, now, options={"since": since} if since else {})
    before = fake.api_requests()
    report = pipeline.ingest(db, athlete, "strava", strava.fetch(context), now)
    return Run(report, strava, fake.api_requests() - before)


def rows(db: Database, config: Config) -> dict[str, ActivityRow]:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        return {
            s.external_id: row
            for row in repo.activity_rows(session, athlete)
            for s in row.sources
            if s.source == "strava"
        }


def state(db: Database, config: Config, key: str) -> dict[str, Any] | None:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        return repo.get_state(session, athlete, key)


def history(
    fake: FakeStrava,
    count: int,
    *,
    end: datetime = NOW,
    every: timedelta = timedelta(days=1),
    first_id: int = 1000,
) -> list[dict[str, Any]]:
    """``count`` easy runs, the newest at ``end`` - 1 day, one per ``every``."""
    out = []
    for i in range(count):
        start = end - timedelta(days=1) - every * i
        out.append(fake.add(make_activity(first_id + i, start)))
    return out


def cli_env(tmp_path: Path, fake: FakeStrava, config: Config) -> dict[str, str]:
    """Environment for the real command in a subprocess: a config file, the secret from the environment."""
    toml = tmp_path / "config.toml"
    toml.write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_pace = "4:15"\n'
        f'[database]\nurl = "{config.database_url}"\n'
        f'[feed]\npath = "{tmp_path / "feed.ics"}"\n'
        f"[sources.fit]\nenabled = false\n"
        f'[sources.strava]\nenabled = true\nclient_id = "{fake.client_id}"\n',
        encoding="utf-8",
    )
    return {
        "RUNSTRONG_CONFIG": str(toml),
        "RUNSTRONG_STRAVA_API_BASE_URL": fake.url,
        "RUNSTRONG_STRAVA_CLIENT_SECRET": fake.client_secret,
        "RUNSTRONG_TODAY": NOW.date().isoformat(),
        "RUNSTRONG_DATA_DIR": str(tmp_path / "data"),
    }
