"""The connector interface: what a connector is, what it contributes, and how it is found.

Glossary:
    connector     something that delivers activities: a folder of files, Strava, Garmin Connect.
                  A class with a ``name`` and ``fetch(context)``; built as ``factory(config)``.
    plugin        what a connector contributes, a :class:`ConnectorPlugin` named by its entry point
                  in the ``runstrong_sync.connectors`` group (pyproject.toml)::

                      [project.entry-points."runstrong_sync.connectors"]
                      garmin = "runstrong_sync.connectors.garmin_plugin:plugin"

                  The plugin's module must be cheap to import (pydantic and this module only): it is
                  loaded whenever the configuration is. Everything heavy is named by a
                  ``"module:attribute"`` reference, imported only when it is used.
    settings      the plugin's pydantic model for ``[sources.<name>]``; the config loader attaches
                  it by name, with the plugin's ``RUNSTRONG_*`` variables (``env``) applied first.
                  Connectors read it with ``config.sources.get("<name>", Model)``.
    enabled       ``enabled(settings) -> bool``: whether ``sync`` runs the connector.
    commands      ``cli``: a click group mounted as ``runstrong-sync <name> ...``, loaded only when
                  that command is named (``cli_help`` is shown by ``--help`` without loading it);
                  ``commands``: more top-level commands, name -> (``"module:attribute"``, short help).
    routes        ``routes``: ``(config, db) -> list of starlette routes`` the feed server mounts,
                  e.g. a webhook; an empty list when the connector is off.
    watch targets ``watch``: ``(config) -> list[WatchTarget]``, folders the watcher (and the daemon)
                  watch; files settling there ask for a sync of ``WatchTarget.source``.
    shared        the keys of ``[sources.<name>]`` that athletes added with ``athletes add``
                  inherit from the file (an app's client id); the rest is each athlete's own.
    prepare       ``prepare``: command name -> ``"module:attribute"`` of an early step,
                  ``(arguments) -> handle | None``, called with the command's own arguments as
                  typed, as soon as the command is named and before its modules load (start
                  worker processes that load meanwhile). The handle (``close()``) reaches the
                  connector as ``context.options["prepared"][<name>]``; the command line closes it
                  when the command ends, used or not. It must be cheap, must not raise, and must
                  leave the outcome unchanged: arguments it does not understand start nothing.
    event         what ``fetch`` yields: Imported (an activity, to store), Deleted (an activity the
                  source no longer has) or Rejected (an input that cannot be imported, with the reason).
    commit        the pipeline stores each event whole (a file connector's in batches, a savepoint
                  each, see storage/db.py's Batch), then, once it is committed, calls the event's
                  ``after_commit`` hook (archive the file, advance a cursor). A crash in between
                  leaves the input to be read again, and storing it again is idempotent.
    state         a connector's cursor and tokens: ``context.load_state(key)``/``save_state(key, value)``,
                  JSON kept per athlete in the database and committed at once.

A new connector: a plugin module, the connector class, an entry point; the contract tests in
tests/test_connectors.py run every installed connector's plugin through the same checks. The core,
the config loader, the server, the watcher and the CLI know connector names, never their modules;
the registry is read once per process (``plugins()`` is cached).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from runstrong_sync.core.domain import Activity
from runstrong_sync.errors import ConfigError

if TYPE_CHECKING:  # the config module reads the registry; this module needs its type only
    from runstrong_sync.config import Config

ENTRY_POINT_GROUP = "runstrong_sync.connectors"
Progress = Callable[[int, int | None, str], None]  # done, total (None: unknown), what
StateChange = Callable[[dict[str, Any] | None], dict[str, Any] | None]
StateUpdate = Callable[[str, StateChange], dict[str, Any] | None]


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
    tombstone: bool = False  # keep it hidden and restorable for a while instead of deleting it


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
    # Read a state row under a row lock, give it to the function, store what it returns (unless
    # None) and commit: for what two workers must never both change (a refresh token).
    update_state: StateUpdate | None = None


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


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """A folder the watcher watches for the connector ``source``."""

    source: str
    folder: Path
    settle_seconds: float  # a file untouched this long (and closed) is complete
    waiting: Callable[[frozenset[Path]], list[Path]]  # files present but not settled yet (busy: open)


@dataclass(frozen=True, slots=True)
class ConnectorPlugin:
    """What one connector contributes; the object its entry point names. See the glossary above."""

    name: str
    settings: type[BaseModel]
    connector: str  # "module:attribute" of the factory: (config) -> Connector
    enabled: Callable[[Any], bool] = lambda settings: bool(getattr(settings, "enabled", False))
    env: Mapping[str, str] = field(default_factory=dict)  # RUNSTRONG_* variable -> key in the section
    cli: str | None = None  # "module:attribute" of a click group: `runstrong-sync <name> ...`
    cli_help: str = ""
    commands: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reference, help)
    routes: str | None = None  # "module:attribute": (config, db) -> list[starlette.routing.BaseRoute]
    watch: str | None = None  # "module:attribute": (config) -> list[WatchTarget]
    shared: frozenset[str] = frozenset()  # keys other athletes inherit from the file (app credentials)
    prepare: Mapping[str, str] = field(default_factory=dict)  # command -> "module:attribute" (early step)


PREPARED = "prepared"  # the ConnectorContext option: connector name -> the handle its early step made


@runtime_checkable
class Prepared(Protocol):
    """What a plugin's early step returns: something the command uses, then closes."""

    def close(self) -> None: ...


def load_reference(reference: str) -> Any:
    """The object a ``"module:attribute"`` reference names, importing its module now."""
    module_name, _, attribute = reference.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


@functools.cache
def plugins() -> Mapping[str, ConnectorPlugin]:
    """Every installed connector's plugin by name; read once per process."""
    found: dict[str, ConnectorPlugin] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        plugin = entry.load()
        if not isinstance(plugin, ConnectorPlugin) or plugin.name != entry.name:
            raise ConfigError(
                f"The connector entry point {entry.name!r} ({entry.value}) is not a ConnectorPlugin "
                f"named {entry.name!r}.",
                ["Reinstall the package that provides it, or remove it."],
            )
        found[entry.name] = plugin
    return dict(sorted(found.items()))


def connector_names() -> list[str]:
    return list(plugins())


def plugin(name: str) -> ConnectorPlugin:
    found = plugins().get(name)
    if found is None:
        raise ConfigError(
            f"No connector named {name!r} is installed.",
            [f"Installed connectors: {', '.join(connector_names()) or 'none'}."],
        )
    return found


def load_connector(name: str, config: Config) -> Connector:
    factory = load_reference(plugin(name).connector)
    connector: Connector = factory(config)
    return connector


def enabled_sources(config: Config) -> list[str]:
    """The connectors ``sync`` runs, by each plugin's own ``enabled`` rule."""
    return [name for name, found in plugins().items() if found.enabled(config.sources.section(name))]


def watch_targets(config: Config) -> list[WatchTarget]:
    """Every enabled connector's folders to watch."""
    targets: list[WatchTarget] = []
    for name in enabled_sources(config):
        reference = plugins()[name].watch
        if reference is not None:
            targets += load_reference(reference)(config)
    return targets


def prepare(command: str, arguments: Sequence[str]) -> dict[str, Prepared]:
    """Every plugin's early step for ``command`` (see ``prepare`` above): connector name -> handle."""
    handles: dict[str, Prepared] = {}
    for name, contribution in plugins().items():
        reference = contribution.prepare.get(command)
        if reference is None:
            continue
        handle = load_reference(reference)(list(arguments))
        if handle is not None:
            handles[name] = handle
    return handles


def prepared(context: ConnectorContext, name: str) -> Any:
    """The handle the early step of connector ``name`` made for this command, or None."""
    return dict(context.options.get(PREPARED) or {}).get(name)


def routes(config: Config, db: Any) -> list[Any]:
    """Every installed connector's HTTP routes (webhooks) for the feed server."""
    found: list[Any] = []
    for contribution in plugins().values():
        if contribution.routes is not None:
            found += load_reference(contribution.routes)(config, db)
    return found
