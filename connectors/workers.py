"""The worker processes that read files during a bulk import, and their early start for `import`.

A spawned worker needs a good part of a second of CPU to load its readers before it reads its first
file. The folder connector's plugin names ``prepare_import`` as its early step for the `import`
command (``ConnectorPlugin.prepare``, runstrong_sync/sources.py): the command line calls it as soon
as the command is named, before the command's own modules (the database, the pipeline) load, so the
workers load on the other core meanwhile. The import then takes them (``Workers.take``); whatever
is not taken is stopped when the command ends (``Workers.close``).

Cheap to import (the standard library only): it runs before anything else the command needs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PARALLEL_MIN_FILES = 16  # below this, starting worker processes costs more than it saves
SKIPPED_FOLDERS = ("rejected", "archive")
NAME_SUFFIXES = (".fit", ".gpx", ".tcx", ".fit.gz", ".gpx.gz", ".tcx.gz", ".zip")


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def spawn_pool(jobs: int) -> ProcessPoolExecutor:
    # spawn: the parent may run threads (the folder watcher), which fork does not carry safely.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


class Workers:
    """Worker processes started ahead for an import with ``jobs`` of them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = spawn_pool(jobs)
        for _ in range(jobs):  # each task that finds no idle worker starts one
            self._pool.submit(load_readers)

    def take(self, jobs: int) -> ProcessPoolExecutor | None:
        """The started pool, once, when it has ``jobs`` workers; the taker shuts it down."""
        pool, self._pool = self._pool, None
        if pool is not None and jobs != self.jobs:
            pool.shutdown(wait=False, cancel_futures=True)
            return None
        return pool

    def close(self) -> None:
        """Stop the workers when the import did not take them (too few files, an early error)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def load_readers() -> None:
    """Run in each worker as it starts: load what reading a file needs, before the first file comes."""
    from . import fitfast, fitmap, reading

    del fitfast, fitmap, reading


def prepare_import(arguments: Sequence[str]) -> Workers | None:
    """The early step of `import PATHS... [--jobs N]`: workers started when the paths hold enough
    files to be read in parallel. Arguments it does not understand start nothing."""
    jobs: int | None = None
    paths: list[Path] = []
    rest = iter(arguments)
    for argument in rest:
        if argument == "--jobs":
            argument = "--jobs=" + next(rest, "")
        if argument.startswith("--jobs="):
            value = argument.removeprefix("--jobs=")
            if not value.isdigit():
                return None
            jobs = int(value)
        elif argument == "--json":
            continue
        elif argument.startswith("-"):
            return None  # an option added later, or `--`: leave the decision to the import
        else:
            paths.append(Path(argument))
    jobs = jobs or default_jobs()
    if jobs <= 1 or not enough_files(paths):
        return None
    return Workers(jobs)


def enough_files(paths: Sequence[Path]) -> bool:
    """Whether ``paths`` name at least PARALLEL_MIN_FILES activity files, or an archive."""
    count = 0
    for path in paths:
        if path.name.lower().endswith(".zip"):
            return True
        if path.is_dir():
            count += _files_below(path, PARALLEL_MIN_FILES - count)
        elif path.name.lower().endswith(NAME_SUFFIXES):
            count += 1
        if count >= PARALLEL_MIN_FILES:
            return True
    return False


def _files_below(folder: Path, wanted: int) -> int:
    count = 0
    for _root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith(".")]
        for name in names:
            if name.lower().endswith(NAME_SUFFIXES) and not name.startswith("."):
                count += 1
                if count >= wanted:
                    return count
    return count
