"""Fixtures shared by the tests; helpers to import are in tests/support.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import FIT, POSTGRES_URL, free_port

XDG_DIRS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never write into the real home: HOME and the XDG dirs (where the user config and
    data dirs are, and the sync lock) point into the test run's temporary folder, for every
    test and every process a test starts. test_cli checks it."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        for name, folder in zip(XDG_DIRS, (".config", ".local/share", ".cache", ".local/state"), strict=True):
            patch.setenv(name, str(home / folder))
        patch.delenv("RUNSTRONG_CONFIG", raising=False)
        yield home


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data dir and no user configuration."""
    data = tmp_path / "data"
    monkeypatch.setenv("RUNSTRONG_DATA_DIR", str(data))
    monkeypatch.setenv("RUNSTRONG_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\n[server]\nport = {free_port()}\n', encoding="utf-8"
    )
    for name in ("RUNSTRONG_TODAY", "RUNSTRONG_DATABASE_URL", "RUNSTRONG_FIT_INBOX"):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.fixture
def fit_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder with good and bad FIT files, copied so the test may move them."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in (
        "running/activity-small-fenix2-run.fit",
        "running/run_with_coordinates.fit",
        "synthetic/synthetic_intervals.fit",
        "other_sports/2016-04-09-13-19-18.fit",
        "corrupt/activity-filecrc.fit",
        "corrupt/run_with_coordinates_truncated60.fit",
        "other_sports/Settings.fit",
    ):
        shutil.copy(FIT / name, folder / Path(name).name)
    (folder / "notes.fit").write_text("this is not a FIT file\n", encoding="utf-8")
    yield folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and (when RUNSTRONG_TEST_POSTGRES_URL is set, as
    .ci/run does) a PostgreSQL database created for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    if POSTGRES_URL is None:
        pytest.skip("RUNSTRONG_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL)")
    from uuid import uuid4

    from sqlalchemy import create_engine, make_url, text

    name = f"runstrong_test_{uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_env(env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``env`` on each database: SQLite, and PostgreSQL when one is available."""
    monkeypatch.setenv("RUNSTRONG_DATABASE_URL", database_url)
    return env
