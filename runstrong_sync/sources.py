"""The connector interface, and loading connectors by name through entry points.

Glossary:
    connector  something that delivers activities: a folder of FIT files, Strava, an export archive.
    event      what a connector yields: Imported (an activity, to store), Deleted (an activity the
               source no longer has) or Rejected (an input that cannot be imported, with the reason).
    commit     the pipeline stores each event in its own transaction, then calls the event's
               ``after_commit`` hook (archive the file, advance a cursor). A crash in between leaves
               the input to be read again, and storing it again is idempotent.

The core knows connector names (``fit``, ``strava``), never their modules: connectors register
under the ``runstrong_sync.connectors`` entry-point group.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from runstrong_sync.config import Config
from runstrong_sync.domain import Activity
from runstrong_sync.errors import ConfigError

ENTRY_POINT_GROUP = "runstrong_sync.connectors"
Progress = Callable[[int, int | None, str], None]  # done, total (None: unknown), what


def _no_progress(done: int, total: int | None, what: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Imported:
    activity: Activity
    fingerprint: str | None = None  # sha256 of the file, when the activity came from one
    after_commit: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Deleted:
    source: str
    external_id: str
    after_commit: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    source_ref: str
    reason: str
    set_aside: Callable[[str], str | None] | None = None  # moves the input aside; returns where


SourceEvent = Imported | Deleted | Rejected


@dataclass
class ConnectorContext:
    """What a connector may use: the clock, persistent state and progress reporting."""

    config: Config
    now: datetime
    load_state: Callable[[str], dict[str, Any] | None]
    save_state: Callable[[str, dict[str, Any]], None]  # committed at once
    progress: Progress = _no_progress
    http_session: Any = None  # a requests.Session; tests pass one routed to a local server
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    name: ClassVar[str]

    def fetch(self, context: ConnectorContext) -> Iterator[SourceEvent]:
        """Everything new since the last run (the connector keeps its own cursor in state)."""
        ...


@runtime_checkable
class FileConnector(Connector, Protocol):
    def import_paths(self, paths: Sequence[Path], context: ConnectorContext) -> Iterator[SourceEvent]:
        """Import the given files or folders now."""
        ...


@functools.cache
def _registered() -> tuple[EntryPoint, ...]:
    """The installed connectors, looked up once per process (reading every installed package's
    metadata takes milliseconds, and a squad's sync asks once per athlete and source)."""
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def connector_names() -> list[str]:
    return sorted({ep.name for ep in _registered()})


def load_connector(name: str, config: Config) -> Connector:
    matches = [ep for ep in _registered() if ep.name == name]
    if not matches:
        raise ConfigError(
            f"No connector named {name!r} is installed.",
            [f"Installed connectors: {', '.join(connector_names()) or 'none'}."],
        )
    factory = matches[0].load()
    connector: Connector = factory(config)
    return connector


def enabled_sources(config: Config) -> list[str]:
    names = []
    if config.sources.fit.enabled and config.sources.fit.inbox is not None:
        names.append("fit")
    if config.sources.strava.enabled:
        names.append("strava")
    return names
