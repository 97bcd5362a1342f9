"""Every installed connector's plugin through the same checks (a new connector gets them for free)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from pydantic import BaseModel, ValidationError

from runstrong_sync.config import Config, load_config
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import (
    Connector,
    ConnectorPlugin,
    enabled_sources,
    load_connector,
    load_reference,
    plugins,
    routes,
    watch_targets,
)
from runstrong_sync.storage.db import open_database

NAMES = sorted(plugins())
HEAVY = ("stravalib", "gpxpy", "fitparse", "sqlalchemy", "starlette", "watchdog")


@pytest.fixture(params=NAMES)
def plugin(request: pytest.FixtureRequest) -> ConnectorPlugin:
    found: ConnectorPlugin = plugins()[request.param]
    return found


def test_the_registry_is_read_once() -> None:
    assert plugins() is plugins()
    assert {"fit", "strava"} <= set(NAMES)


def test_reading_the_registry_and_the_config_imports_no_connector_code() -> None:
    code = (
        "import sys\n"
        "from runstrong_sync.config import load_config\n"
        "load_config(environ={})\n"
        f"loaded = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_settings_have_defaults_and_refuse_unknown_keys(plugin: ConnectorPlugin) -> None:
    assert issubclass(plugin.settings, BaseModel)
    defaults = plugin.settings()
    assert Config().sources.section(plugin.name) == defaults
    with pytest.raises(ValidationError):
        plugin.settings.model_validate({"no_such_key": 1})


def test_a_wrong_key_names_the_section_and_the_key(plugin: ConnectorPlugin, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[sources.{plugin.name}]\nno_such_key = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert f"sources.{plugin.name}.no_such_key: unknown key" in str(caught.value)


def test_an_unknown_connector_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sources.nowhere]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\.nowhere: unknown key"):
        load_config(path, environ={})


def test_environment_variables_land_in_the_section(plugin: ConnectorPlugin) -> None:
    fields = plugin.settings.model_fields
    for variable, key in plugin.env.items():
        assert variable.startswith("RUNSTRONG_") and key in fields
        value = "/tmp/x" if key == "inbox" else "12345"
        config = load_config(None, environ={variable: value, "RUNSTRONG_CONFIG": "/dev/null"})
        assert str(getattr(config.sources.section(plugin.name), key)) == value
    assert plugin.shared <= set(fields)


def test_the_connector_is_built_by_name(plugin: ConnectorPlugin) -> None:
    connector = load_connector(plugin.name, Config())
    assert isinstance(connector, Connector)
    assert connector.name == plugin.name


def test_commands_load_when_named(plugin: ConnectorPlugin) -> None:
    if plugin.cli is None and not plugin.commands:
        pytest.skip(f"{plugin.name} has no commands")
    if plugin.cli is not None:
        assert plugin.cli_help
        assert isinstance(load_reference(plugin.cli), click.Command)
    for reference, help_text in plugin.commands.values():
        assert help_text
        assert isinstance(load_reference(reference), click.Command)


def test_routes_and_watch_targets_are_empty_while_off(plugin: ConnectorPlugin, tmp_path: Path) -> None:
    off = Config.model_validate({"sources": {plugin.name: {"enabled": False}}, "data_dir": str(tmp_path)})
    assert plugin.name not in enabled_sources(off)
    assert all(target.source != plugin.name for target in watch_targets(off))
    db = open_database(off.database_url)
    try:
        if plugin.routes is not None:
            assert load_reference(plugin.routes)(off, db) == []
        assert routes(off, db) == [] or plugin.routes is None
    finally:
        db.dispose()


def test_the_inbox_is_a_watch_target(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fresh.fit").write_bytes(b"being written")
    config = Config.model_validate({"sources": {"fit": {"inbox": str(inbox), "settle_seconds": 3600}}})
    (target,) = watch_targets(config)
    assert (target.source, target.folder, target.settle_seconds) == ("fit", inbox, 3600)
    assert target.waiting(frozenset()) == [inbox / "fresh.fit"]
    assert target.waiting(frozenset({inbox / "fresh.fit"})) == []


def test_the_strava_webhook_is_mounted_while_strava_is_on(tmp_path: Path) -> None:
    config = Config.model_validate({"sources": {"strava": {"enabled": True}}, "data_dir": str(tmp_path)})
    db = open_database(config.database_url)
    try:
        assert [route.path for route in routes(config, db)] == ["/strava/webhook/{secret}"]
    finally:
        db.dispose()


def test_help_lists_connector_commands_without_loading_them() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from runstrong_sync.cli import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "assert 'strava' in out and 'Connect Strava' in out, out\n"
        "assert 'stravalib' not in sys.modules\n"
        "out = CliRunner().invoke(cli, ['strava', '--help']).output\n"
        "assert 'auth' in out and 'stravalib' in sys.modules, out\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
