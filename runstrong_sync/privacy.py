"""Private by default: what the program writes is readable by its own user only.

``set_private_umask`` is the first thing the command line does (umask 077: directories 0700,
files 0600, whatever creates them: SQLite, the lock, the feeds, temporary files). ``tighten`` brings
an install made before that to the same modes, touching only the files the program itself writes.
``config_warnings`` names a configuration file that holds a secret and that others can read.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # set_private_umask runs before anything else: `--help` loads no configuration code
    from runstrong_sync.config import Config

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
OWN_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal", ".ics", ".lock")
SECRET_KEYS = (("sources", "strava", "client_secret"), ("sources", "strava", "webhook_verify_token"))


def set_private_umask() -> None:
    os.umask(PRIVATE_UMASK)


def _chmod(path: Path, mode: int) -> bool:
    """Set ``mode`` when others have any access now; True when it changed."""
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink() or not current & 0o077:
            return False
        path.chmod(mode)
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc.strerror or exc)
        return False
    return True


def _own_files(config: Config) -> Iterator[Path]:
    data_dir = config.resolved_data_dir
    for folder in (data_dir, data_dir / "feeds"):
        if folder.is_dir():
            yield from (p for p in folder.iterdir() if p.is_file() and p.name.endswith(OWN_SUFFIXES))
    url = config.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        database = Path(url.removeprefix("sqlite:///")).expanduser()
        for suffix in ("", "-wal", "-shm", "-journal"):
            candidate = database.with_name(database.name + suffix)
            if candidate.is_file():
                yield candidate
    feed = config.feed_path
    for candidate in feed.parent.glob(f"{feed.stem}*{feed.suffix or '.ics'}") if feed.parent.is_dir() else ():
        yield candidate


def tighten(config: Config) -> list[Path]:
    """Make the data dir 0700 and the database, feeds and locks 0600; returns what changed."""
    changed = []
    for folder in (config.resolved_data_dir, config.resolved_data_dir / "feeds"):
        if folder.is_dir() and _chmod(folder, DIR_MODE):
            changed.append(folder)
    changed += [path for path in set(_own_files(config)) if _chmod(path, FILE_MODE)]
    for path in changed:
        log.info("made %s private to its owner", path)
    return changed


def config_warnings(path: Path | None) -> list[str]:
    """A warning when the configuration file holds a secret and other users may read it."""
    if path is None:
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not mode & 0o044 or not _holds_secret(data):
        return []
    return [
        f"The configuration file {path} holds a secret and other users can read it "
        f"(mode {mode:o}): run `chmod 600 {path}`."
    ]


def _holds_secret(data: dict[str, object]) -> bool:
    for keys in SECRET_KEYS:
        node: object = data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if node:
            return True
    database = data.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    return (
        isinstance(url, str)
        and "://" in url
        and ":" in url.split("://", 1)[1].split("@", 1)[0]
        and "@" in url
    )
