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
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import plugins

APP_NAME = "runstrong-sync"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Equipment = Literal["bodyweight", "bands", "dumbbells", "kettlebells"]
S = TypeVar("S", bound=BaseModel)
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


class EarlierThresholds(Section):
    """Thresholds that held before ``until`` ([[athlete.earlier]]); the ones left out are estimated
    from that time's runs. Each run is judged by the values in force on its date."""

    until: date
    max_hr: Annotated[int, Field(ge=100, le=230)] | None = None
    threshold_hr: Annotated[int, Field(ge=90, le=220)] | None = None
    resting_hr: Annotated[int, Field(ge=25, le=110)] | None = None
    threshold_pace: str | None = None  # min:s per km

    @field_validator("threshold_pace")
    @classmethod
    def _pace(cls, value: str | None) -> str | None:
        if value is not None:
            pace_to_speed(value)
        return value

    @property
    def threshold_speed_mps(self) -> float | None:
        return pace_to_speed(self.threshold_pace) if self.threshold_pace else None


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
    earlier: tuple[EarlierThresholds, ...] = ()  # thresholds that held before a date

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


class SourcesConfig(BaseModel):
    """``[sources.<name>]``: one section per installed connector, each checked by the model its
    plugin contributes (runstrong_sync.sources); an unknown name is an error naming the installed ones.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _sections(cls, data: Any, handler: ModelWrapValidatorHandler[SourcesConfig]) -> SourcesConfig:
        if isinstance(data, Mapping):
            data = _source_sections(data)
        return handler(data)

    def section(self, name: str) -> BaseModel:
        """The settings of connector ``name``."""
        found = (self.__pydantic_extra__ or {}).get(name)
        if not isinstance(found, BaseModel):
            raise ConfigError(f"No connector named {name!r} is installed.")
        return found

    def get(self, name: str, model: type[S]) -> S:
        """The settings of connector ``name``, as its plugin's ``model``."""
        found = self.section(name)
        if not isinstance(found, model):
            raise TypeError(f"sources.{name} is a {type(found).__name__}, not a {model.__name__}")
        return found

    if TYPE_CHECKING:  # ``config.sources.fit`` reads a section by attribute (pydantic's extras)

        def __getattr__(self, name: str) -> Any: ...


def _source_sections(data: Mapping[str, Any]) -> dict[str, Any]:
    """Each section validated by its connector's model; all errors together, located."""
    installed = plugins()
    sections: dict[str, Any] = {}
    errors: list[InitErrorDetails] = []
    for name, value in data.items():
        if name not in installed:
            errors.append({"type": "extra_forbidden", "loc": (name,), "input": value})
            continue
        try:
            model = installed[name].settings
            sections[name] = value if isinstance(value, model) else model.model_validate(value)
        except ValidationError as exc:
            errors += [
                {
                    "type": e["type"],
                    "loc": (name, *e["loc"]),
                    "input": e.get("input"),
                    "ctx": e.get("ctx", {}),
                }
                for e in exc.errors()
            ]
    if errors:
        raise ValidationError.from_exception_data("sources", errors)
    for name, found in installed.items():
        sections.setdefault(name, found.settings())
    return sections


class RaceConfig(Section):
    date: date
    name: str = "Race"
    priority: Literal["A", "B", "C"] = "A"
    distance_km: Annotated[float, Field(gt=0, le=500)] | None = None  # recovery after it; else from the name


class PlannerConfig(Section):
    min_sessions: Annotated[int, Field(ge=0, le=4)] = 2
    max_sessions: Annotated[int, Field(ge=1, le=4)] = 3
    min_hours_between: Annotated[int, Field(ge=24, le=96)] = 48
    gap_after_run_hours: Annotated[float, Field(ge=0, le=12)] = 0.0  # 0: right after the run
    hard_days_hard: bool = False
    hard_day_right_after: bool = False  # on a hard-run day, strength right after the run (not 4 h later)
    light_day_before: bool = False  # opt-in: a short core session the day before a hard/long run
    latest_start: time | Literal["auto"] = "auto"  # auto: learned from when you run (21:00 at the earliest)
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
# Each connector's plugin adds its own (``ConnectorPlugin.env``), e.g. RUNSTRONG_STRAVA_CLIENT_SECRET.
ENV_OVERRIDES: Mapping[str, tuple[str, ...]] = {
    "RUNSTRONG_DATABASE_URL": ("database", "url"),
    "RUNSTRONG_DATA_DIR": ("data_dir",),
}


def env_overrides() -> dict[str, tuple[str, ...]]:
    """Every variable that overrides the file: the core's and each installed connector's."""
    found = dict(ENV_OVERRIDES)
    for name, contribution in plugins().items():
        found.update({variable: ("sources", name, key) for variable, key in contribution.env.items()})
    return found


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
    for variable, keys in env_overrides().items():
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
