"""The example configuration loads, documents every setting, and bad values are named."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runstrong_sync import configfile
from runstrong_sync.config import Config, SourcesConfig, load_config, validate
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import plugins
from tests.support import ROOT

EXAMPLE = ROOT / "config.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        if annotation is SourcesConfig:  # one section per installed connector, from its plugin
            for source, contribution in plugins().items():
                keys |= _keys(contribution.settings, f"{prefix}{name}.{source}.")
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _flatten(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_example_loads_and_covers_every_setting() -> None:
    """The example is live nowhere: it loads as the defaults, and every setting is there,
    commented out, with a value that is valid once the "# " is removed."""
    assert load_config(EXAMPLE, environ={}) == Config().model_copy(update={"source_path": EXAMPLE})
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text == configfile.render({})  # what `init` writes when nothing is answered
    live = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    assert live == []
    examples = tomllib.loads(configfile.uncommented(text))
    config = validate(examples, "the example's commented settings")
    assert config.athlete.time_zone == "Europe/Berlin"
    assert config.planner.races[0].priority == "A"
    documented = _flatten(examples)
    assert _keys(Config) - documented == set()
    assert documented - _keys(Config) == set()


def test_every_key_has_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    settings = 0
    for i, line in enumerate(lines):
        if configfile.SETTING.match(line):
            settings += 1
            above = lines[i - 1]
            assert (above.startswith("# ") and not configfile.SETTING.match(above)) or "#" in line[2:], (
                f"undocumented: {line}"
            )
    assert settings == len(_keys(Config))


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[athlete]\nthreshold_heartrate = 170\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    text = str(error.value)
    assert str(path) in text and "athlete.threshold_heartrate" in text and "unknown key" in text


def test_bad_value_says_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[athlete]\nexperience = "pro"\ntime_zone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    text = str(error.value)
    assert "athlete.experience" in text and "'beginner' or 'experienced'" in text
    assert "athlete.time_zone" in text and "IANA" in text


def test_lookup_order_and_environment_overrides(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[athlete]\nname = "Explicit"\n', encoding="utf-8")
    from_env = tmp_path / "env.toml"
    from_env.write_text('[athlete]\nname = "FromEnv"\n', encoding="utf-8")
    environ = {"RUNSTRONG_CONFIG": str(from_env), "RUNSTRONG_STRAVA_CLIENT_SECRET": "s3cret"}
    assert load_config(explicit, environ=environ).athlete.name == "Explicit"
    config = load_config(None, environ=environ)
    assert config.athlete.name == "FromEnv"
    assert config.sources.strava.client_secret == "s3cret"


def test_missing_and_broken_files_give_one_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[athlete\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, environ={})
