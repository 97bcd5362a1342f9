"""Configuration: one TOML file, looked up in a documented order, checked strictly.

Lookup: ``--config PATH`` > ``RUNSTRONG_CONFIG`` > ``<user config dir>/config.toml`` > built-in
defaults. Secrets (and a few paths) can come from ``RUNSTRONG_*`` environment variables, which
override the file. Every key is documented in ``config.example.toml``; a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runstrong_sync.errors import ConfigError

APP_NAME = "runstrong-sync"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Equipment = Literal["bodyweight", "bands", "dumbbells", "kettlebells"]
_PACE = re.compile(r"^(\d{1,2}):([0-5]\d)$")


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def pace_to_speed(pace: str) -> float:
    """'4:15' (min:s per km) -> metres per second."""
    match = _PACE.match(pace)
    if not match:
        raise ValueError(f"pace must look like 4:15 (minutes:seconds per km), not {pace!r}")
    seconds = int(match.group(1)) * 60 + int(match.group(2))
    if seconds <= 0:
        raise ValueError("pace must be more than 0:00")
    return 1000.0 / seconds


class AthleteConfig(Section):
    name: str = "Runner"
    time_zone: str = "UTC"
    max_hr: Annotated[int, Field(ge=100, le=230)] | None = None
    threshold_hr: Annotated[int, Field(ge=90, le=220)] | None = None
    resting_hr: Annotated[int, Field(ge=25, le=110)] | None = None
    threshold_pace: str | None = None  # min:s per km
    age: Annotated[int, Field(ge=10, le=100)] | None = None
    experience: Literal["beginner", "experienced"] = "beginner"
    equipment: tuple[Equipment, ...] = ("bodyweight", "bands")
    strength_days: tuple[Weekday, ...] = WEEKDAYS
    strength_time: time = time(18, 30)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Berlin") from exc
        return value

    @field_validator("threshold_pace")
    @classmethod
    def _pace(cls, value: str | None) -> str | None:
        if value is not None:
            pace_to_speed(value)
        return value

    @field_validator("strength_days")
    @classmethod
    def _some_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one day")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def threshold_speed_mps(self) -> float | None:
        return pace_to_speed(self.threshold_pace) if self.threshold_pace else None


class FitSourceConfig(Section):
    enabled: bool = True
    inbox: Path | None = None  # folder of FIT/GPX/TCX files and exports; watched by `watch`
    after_import: Literal["archive", "leave"] = "archive"
    archive_dir: Path | None = None  # default: <inbox>/archive
    rejected_dir: Path | None = None  # default: <inbox>/rejected
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0  # untouched this long: complete


class StravaSourceConfig(Section):
    enabled: bool = False
    client_id: str | None = None  # or RUNSTRONG_STRAVA_CLIENT_ID
    client_secret: str | None = None  # or RUNSTRONG_STRAVA_CLIENT_SECRET
    api_base_url: str = "https://www.strava.com"
    lookback_days: Annotated[int, Field(ge=0, le=365)] = 14
    streams: Literal["auto", "always", "never"] = "auto"
    stream_budget: Annotated[int, Field(ge=0)] = 20  # stream requests per run
    rate_limit_reserve: Annotated[int, Field(ge=0)] = 10  # requests left untouched per window
    webhook_verify_token: str | None = None  # or RUNSTRONG_STRAVA_WEBHOOK_VERIFY_TOKEN


class SourcesConfig(Section):
    fit: FitSourceConfig = FitSourceConfig()
    strava: StravaSourceConfig = StravaSourceConfig()


class RaceConfig(Section):
    date: date
    name: str = "Race"
    priority: Literal["A", "B", "C"] = "A"


class PlannerConfig(Section):
    min_sessions: Annotated[int, Field(ge=0, le=4)] = 2
    max_sessions: Annotated[int, Field(ge=1, le=4)] = 3
    min_hours_between: Annotated[int, Field(ge=24, le=96)] = 48
    gap_after_run_hours: Annotated[float, Field(ge=0, le=12)] = 6.0
    hard_days_hard: bool = False
    stable_hours: Annotated[int, Field(ge=0, le=168)] = 48
    history_weeks: Annotated[int, Field(ge=2, le=12)] = 6
    upcoming_runs_ics: str | None = None  # file path or URL of a training plan's ICS feed
    races: tuple[RaceConfig, ...] = ()

    @model_validator(mode="after")
    def _range(self) -> PlannerConfig:
        if self.min_sessions > self.max_sessions:
            raise ValueError("min_sessions must not be larger than max_sessions")
        return self


class FeedConfig(Section):
    path: Path | None = None  # default: <data dir>/runstrong.ics
    name: str = "Strength for running"
    past_weeks: Annotated[int, Field(ge=0, le=52)] = 4
    future_weeks: Annotated[int, Field(ge=1, le=12)] = 2
    refresh_minutes: Annotated[int, Field(ge=15, le=10080)] = 360
    all_day: bool = False
    busy: bool = True  # TRANSP: OPAQUE when true, TRANSPARENT when false
    alarm_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    runs_feed: bool = False
    busy_only_feed: bool = False
    stale_after_hours: Annotated[int, Field(ge=1)] = 48


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8765
    public_url: str | None = None  # how clients reach the server, e.g. https://cal.example.org
    # Limits that keep one client from starving the others (see README, "Feed server limits").
    max_header_bytes: Annotated[int, Field(ge=8192, le=1_048_576)] = 16_384
    max_body_bytes: Annotated[int, Field(ge=1024, le=10_485_760)] = 65_536
    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_requests: Annotated[int, Field(ge=16, le=100_000)] = 1024  # handled at once, per worker


class DaemonConfig(Section):
    sync_time: time = time(3, 30)
    poll_minutes: Annotated[int, Field(ge=0, le=1440)] = 0  # 0: only the nightly sync


class DatabaseConfig(Section):
    url: str | None = None  # any SQLAlchemy URL; default: SQLite in the user data dir


class Config(Section):
    athlete: AthleteConfig = AthleteConfig()
    sources: SourcesConfig = SourcesConfig()
    planner: PlannerConfig = PlannerConfig()
    feed: FeedConfig = FeedConfig()
    server: ServerConfig = ServerConfig()
    daemon: DaemonConfig = DaemonConfig()
    database: DatabaseConfig = DatabaseConfig()
    data_dir: Path | None = None  # default: the user data dir; RUNSTRONG_DATA_DIR
    source_path: Path | None = Field(default=None, exclude=True)

    @property
    def resolved_data_dir(self) -> Path:
        return (self.data_dir or default_data_dir()).expanduser()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.resolved_data_dir / 'runstrong.sqlite'}"

    @property
    def feed_path(self) -> Path:
        return (self.feed.path or self.resolved_data_dir / "runstrong.ics").expanduser()


# Environment variables that override the file; secrets belong here rather than in the file.
ENV_OVERRIDES: Mapping[str, tuple[str, ...]] = {
    "RUNSTRONG_DATABASE_URL": ("database", "url"),
    "RUNSTRONG_DATA_DIR": ("data_dir",),
    "RUNSTRONG_STRAVA_CLIENT_ID": ("sources", "strava", "client_id"),
    "RUNSTRONG_STRAVA_CLIENT_SECRET": ("sources", "strava", "client_secret"),
    "RUNSTRONG_STRAVA_WEBHOOK_VERIFY_TOKEN": ("sources", "strava", "webhook_verify_token"),
    "RUNSTRONG_STRAVA_API_BASE_URL": ("sources", "strava", "api_base_url"),
    "RUNSTRONG_FIT_INBOX": ("sources", "fit", "inbox"),
}


def find_config_path(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read, by the documented order; None means built-in defaults."""
    if explicit is not None:
        return explicit
    from_env = environ.get("RUNSTRONG_CONFIG")
    if from_env:
        return Path(from_env)
    candidate = default_config_path()
    return candidate if candidate.is_file() else None


def load_config(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    path = find_config_path(explicit, environ)
    data: dict[str, Any] = {}
    where = "built-in defaults"
    if path is not None:
        where = str(path)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Configuration file {path} does not exist.",
                ["Create it from config.example.toml, or point --config / RUNSTRONG_CONFIG elsewhere."],
            ) from exc
        except OSError as exc:
            raise ConfigError(f"Configuration file {path} cannot be read: {exc.strerror}.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Configuration file {path} is not valid TOML: {exc}.") from exc
    for variable, keys in ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value:
            _set_nested(data, keys, value)
    return validate(data, f"Configuration in {where}").model_copy(update={"source_path": path})


def validate(data: Mapping[str, Any], what: str) -> Config:
    """``data`` as a Config, or one ConfigError naming ``what`` and every wrong key."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{what} has {exc.error_count()} problem(s):",
            [_describe(error) for error in exc.errors()],
        ) from exc


def _set_nested(data: dict[str, Any], keys: tuple[str, ...], value: str) -> None:
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        section = ".".join(str(part) for part in error["loc"][:-1]) or "the top level"
        return f"{key}: unknown key; see config.example.toml for the keys allowed in {section}"
    given = error.get("input")
    shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}{shown}"
