"""Shared state of one command-line invocation: options, configuration, database, console."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported where used, so that `--help` and light commands start quickly
    from rich.console import Console

    from runstrong_sync.config import Config
    from runstrong_sync.storage.db import Database


@dataclass
class App:
    config_path: Path | None = None
    today: date | None = None
    verbose: bool = False
    athlete_key: str | None = None  # --athlete; None: the default athlete (and, for sync, everyone)
    console: Console = field(default_factory=lambda: _console())
    errors: Console = field(default_factory=lambda: _console(stderr=True))
    _config: Config | None = None
    _file_config: Config | None = None
    _db: Database | None = None

    @property
    def file_config(self) -> Config:
        """The configuration file's values, before any athlete's own settings."""
        if self._file_config is None:
            from runstrong_sync import privacy
            from runstrong_sync.config import load_config

            self._file_config = load_config(self.config_path)
            for warning in privacy.config_warnings(self._file_config.source_path):
                self.errors.print(f"Warning: {warning}", highlight=False, markup=False, soft_wrap=True)
            privacy.tighten(self._file_config)  # an install made before files were private
        return self._file_config

    @property
    def config(self) -> Config:
        """The configuration of the athlete in use (``--athlete``), else the file's."""
        if self._config is None:
            from runstrong_sync import athletes

            if self.athlete_key is None and athletes.zone_configured(self.file_config, {}):
                self._config = self.file_config
            elif self.athlete_key is None:  # the time zone is found from the data, once
                now = athletes.now_for(self.today, self.file_config)
                key = athletes.DEFAULT_ATHLETE
                _, self._config = athletes.config_for(self.db, self.file_config, key, now)
            else:
                now = athletes.now_for(self.today, self.file_config)
                _, self._config = athletes.config_for(self.db, self.file_config, self.athlete_key, now)
        return self._config

    def use_config(self, config: Config) -> None:
        self._config = self._file_config = config
        if self._db is not None:
            self._db.dispose()
            self._db = None

    @property
    def db(self) -> Database:
        if self._db is None:
            from runstrong_sync.storage.db import open_database

            self._db = open_database(self.file_config.database_url)
        return self._db

    def now(self) -> datetime:
        from runstrong_sync import athletes

        return athletes.now_for(self.today, self.config)

    def athlete(self) -> int:
        from runstrong_sync import athletes

        key = self.athlete_key or athletes.DEFAULT_ATHLETE
        athlete, _ = athletes.config_for(self.db, self.file_config, key, self.now())
        return athlete

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def parse_today(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.UsageError(
            f"--today / RUNSTRONG_TODAY must be a date like 2026-11-25, not {value!r}."
        ) from exc


def setup_logging(verbose: bool, console: Console) -> None:
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose else logging.WARNING
    handler = RichHandler(console=console, show_path=False, show_time=verbose, markup=False)
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s", force=True)
    for noisy in ("alembic", "urllib3", "stravalib", "sqlalchemy", "watchdog"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


pass_app = click.make_pass_decorator(App)


def _console(*, stderr: bool = False) -> Console:
    """Tables stay readable when piped: at least 120 columns unless COLUMNS says otherwise. Rich is
    imported here, when a command runs: `--help` does without it."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not stderr and not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 120)
    return console


def today_from_env() -> str | None:
    return os.environ.get("RUNSTRONG_TODAY") or None
