"""Private by default: the real command in its own process, started with the common umask 022,
leaves nothing that another local user can read; an older install is tightened on the next run."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from runstrong_sync.errors import ExitStatus
from tests.support import FIT, ROOT


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runstrong_sync", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        preexec_fn=lambda: os.umask(0o022),
        timeout=120,
    )


def setup(tmp_path: Path, extra: str = "") -> dict[str, str]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIT / "running/run_with_coordinates.fit", inbox)
    (inbox / "broken.fit").write_bytes(b"not a fit file")
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[athlete]\ntime_zone = "Europe/Berlin"\n'
        "[feed]\nruns_feed = true\nbusy_only_feed = true\n"
        f'[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 0\n{extra}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    (tmp_path / "anna.toml").write_text('[athlete]\ntime_zone = "Europe/Berlin"\n', encoding="utf-8")
    return {"RUNSTRONG_CONFIG": str(config), "RUNSTRONG_TODAY": "2026-11-20"}


def modes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): stat.S_IMODE(path.lstat().st_mode)
        for path in [folder, *folder.rglob("*")]
    }


def test_every_file_the_program_creates_is_its_owners_only(tmp_path: Path) -> None:
    env = setup(tmp_path)
    assert run(env, "sync").returncode == ExitStatus.REJECTED_INPUT
    added = run(env, "athletes", "add", "anna", "--settings", str(tmp_path / "anna.toml"))
    assert added.returncode == 0, added.stderr
    assert run(env, "sync").returncode in (0, ExitStatus.REJECTED_INPUT)
    assert run(env, "feed").returncode == 0
    data = modes(tmp_path / "data")
    assert {"runstrong.sqlite", "runstrong.ics", "runstrong-runs.ics", "sync.lock", "feeds"} <= set(data)
    assert any(name.startswith("feeds/") for name in data)
    opened = {name: mode for name, mode in data.items() if mode & 0o077}
    assert not opened, {name: oct(mode) for name, mode in opened.items()}
    rejected = modes(tmp_path / "inbox" / "rejected")
    del rejected["broken.fit"]  # the runner's own file, moved aside as it was
    assert rejected and not any(mode & 0o077 for mode in rejected.values()), rejected


def test_an_older_install_is_tightened_and_a_readable_secret_is_named(tmp_path: Path) -> None:
    env = setup(tmp_path, '[sources.strava]\nclient_id = "1"\nclient_secret = "s3cret"\n')
    assert run(env, "sync").returncode == ExitStatus.REJECTED_INPUT
    data = tmp_path / "data"
    data.chmod(0o755)
    for path in data.iterdir():
        path.chmod(0o644)
    config = Path(env["RUNSTRONG_CONFIG"])
    config.chmod(0o644)
    result = run(env, "status")
    assert result.returncode == 0, result.stderr
    assert f"{config}" in result.stderr and f"chmod 600 {config}" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    left_open = {name: oct(mode) for name, mode in modes(data).items() if mode & 0o077}
    assert not left_open, left_open
    config.chmod(0o600)
    assert "chmod" not in run(env, "status").stderr
