"""Turning files, folders and archives into events: checked in this process, parsed in parallel.

The parent checks each input (name, link target, size, archive safety), then hands the readable
ones to worker processes, at most a few per worker at a time so memory stays flat however many
files there are. Results come back in input order as plain Activities; storing them (each whole,
committed in batches) stays with the pipeline in this process. A file's archive or rejected/ move
happens through the event's hook, after the database commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from runstrong_sync.errors import ArchiveRejectedError, InputError
from runstrong_sync.sources import ConnectorContext, Imported, Rejected, SourceEvent

from .archives import ArchiveLimits, plan_archive
from .files import REASON_SUFFIX, display, free_name, move_to, set_aside
from .formats import MAX_FILE_BYTES, format_of
from .reading import DEFAULT_LIMITS, Parsed, WorkItem, close_archives, parse_batch, parse_item, read_input
from .workers import PARALLEL_MIN_FILES, SKIPPED_FOLDERS, Workers, default_jobs, spawn_pool

__all__ = [
    "PARALLEL_MIN_FILES",
    "Parsed",
    "Targets",
    "WorkItem",
    "collect",
    "default_jobs",
    "events",
    "folder_files",
    "inbox_files",
    "input_problem",
    "parse_all",
    "parse_item",
    "settled",
]

log = logging.getLogger(__name__)

BATCH_FILES = 4  # files per task sent to a worker
BATCHES_PER_WORKER = 2  # tasks in flight per worker: bounded memory, and no worker waits for work


def parse_all(
    items: Sequence[WorkItem], zone: ZoneInfo, jobs: int, workers: Workers | None = None
) -> Iterator[tuple[WorkItem, Parsed]]:
    """Parse ``items`` in worker processes, yielding results in input order with bounded work in flight.

    ``workers``: processes started ahead (connectors/workers.py), used when they are as many as ``jobs``.

    A worker that dies (a crash, the out-of-memory killer) takes the pool down with it: the files
    that were in flight are then read again one by one, each in a process of its own, so only the
    file that kills its reader is set aside. When no worker can be started at all, this process
    reads the files itself.
    """
    if jobs <= 1 or len(items) < PARALLEL_MIN_FILES:
        if workers is not None:
            workers.close()  # started ahead for more files than there are to read
        for item in items:
            yield item, parse_item(item, zone)
        return
    position = 0
    delivered = False
    while position < len(items):
        pending: deque[tuple[Sequence[WorkItem], Future[list[Parsed]]]] = deque()
        try:
            early = workers.take(jobs) if workers is not None else None
            with early or spawn_pool(jobs) as pool:
                window = jobs * BATCHES_PER_WORKER
                for start in range(position, len(items), BATCH_FILES):
                    batch = items[start : start + BATCH_FILES]
                    pending.append((batch, pool.submit(parse_batch, batch, zone)))
                    if len(pending) >= window:
                        for done in _next(pending):
                            yield done
                            position += 1
                            delivered = True
                while pending:
                    for done in _next(pending):
                        yield done
                        position += 1
                        delivered = True
        except BrokenProcessPool:
            if not delivered:
                log.warning("worker processes cannot be started; reading the files in this process")
                for item in items[position:]:
                    yield item, parse_item(item, zone)
                return
            suspects = [item for batch, _ in pending for item in batch]
            for item in suspects:
                yield item, _isolated(item, zone)
            position += len(suspects)


def _next(
    pending: deque[tuple[Sequence[WorkItem], Future[list[Parsed]]]],
) -> list[tuple[WorkItem, Parsed]]:
    batch, future = pending[0]
    parsed = future.result()  # BrokenProcessPool propagates: the caller retries what was in flight
    pending.popleft()
    return list(zip(batch, parsed, strict=True))


def _isolated(item: WorkItem, zone: ZoneInfo) -> Parsed:
    try:
        with spawn_pool(1) as pool:
            return pool.submit(parse_item, item, zone).result()
    except BrokenProcessPool as exc:
        return Parsed(reason=f"the file made its reader process stop ({exc}); it may be hostile or damaged")


@dataclass
class Targets:
    """Where a file goes after import (None: stays) and where a rejected one is set aside."""

    archive_dir: Path | None
    rejected_dir: Path
    confine_to: Path | None = None  # symbolic links leading out of this folder are refused


@dataclass
class _Batch:
    items: list[WorkItem] = field(default_factory=list)
    early: list[Rejected] = field(default_factory=list)  # refused before parsing
    targets: dict[int, Targets] = field(default_factory=dict)  # item index -> targets of its file
    finish: dict[int, Callable[[], None]] = field(default_factory=dict)  # after the last item of a zip
    owner: dict[int, Path] = field(default_factory=dict)  # item index -> file on disk


def collect(files: Iterable[tuple[Path, Targets]], temp_dir: Path, *, limits: ArchiveLimits) -> _Batch:
    """Check every input in this process: links, names, sizes, archives; plan what to parse."""
    batch = _Batch()
    for path, targets in files:
        reason = input_problem(path, targets.confine_to)
        if reason is not None:
            batch.early.append(Rejected(display(path), reason, _aside(path, targets.rejected_dir)))
            continue
        if format_of(path.name) != "zip":
            index = len(batch.items)
            batch.items.append(WorkItem(display(path), path))
            batch.targets[index] = targets
            batch.owner[index] = path
            continue
        try:
            plan = plan_archive(path, temp_dir, limits)
        except ArchiveRejectedError as exc:
            batch.early.append(
                Rejected(
                    display(path), str(exc).removeprefix(f"{path}: "), _aside(path, targets.rejected_dir)
                )
            )
            continue
        for ref, reason in plan.rejected:
            batch.early.append(Rejected(display(ref), reason, _entry_aside(path, ref, targets.rejected_dir)))
        if not plan.members:
            what = "no importable activity files" if plan.rejected else "no activity files (.fit, .gpx, .tcx)"
            batch.early.append(
                Rejected(display(path), f"the archive holds {what}", _aside(path, targets.rejected_dir))
            )
            continue
        for member in plan.members:
            index = len(batch.items)
            batch.items.append(WorkItem(display(member.ref), member.zip_path, member.member, member.hints))
            batch.targets[index] = targets
            batch.owner[index] = path
        if targets.archive_dir is not None:
            batch.finish[len(batch.items) - 1] = _archiver(path, targets.archive_dir)
    return batch


def input_problem(path: Path, confine_to: Path | None) -> str | None:
    """Why a file on disk is refused before it is read, or None."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename it (letters, digits, - and _) and import it again"
    try:
        if path.is_symlink():
            target = path.resolve()
            if not target.exists():
                return f"the symbolic link points to nothing ({display(path.readlink())})"
            if confine_to is not None and not target.is_relative_to(confine_to.resolve()):
                return (
                    f"the symbolic link points outside the inbox ({display(target)}); "
                    "links out of it are not followed"
                )
        info = path.stat()
    except OSError as exc:
        return f"the file cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a folder, pipe or device); only files are imported"
    if info.st_size == 0:
        return "the file is empty (0 bytes)"
    if info.st_size > MAX_FILE_BYTES and format_of(path.name) != "zip":
        return (
            f"the file is {info.st_size // 1_048_576} MiB, larger than any activity file (64 MiB); not read"
        )
    if not os.access(path, os.R_OK):
        return "the file cannot be read: permission denied"
    return None


def events(
    files: Sequence[tuple[Path, Targets]],
    context: ConnectorContext,
    zone: ZoneInfo,
    *,
    jobs: int = 1,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    workers: Workers | None = None,
) -> Iterator[SourceEvent]:
    """Events for ``files``: refusals first, then each parsed file's activities or its rejection."""
    with tempfile.TemporaryDirectory(prefix="runstrong-archive-") as temp:
        batch = collect(files, Path(temp), limits=limits)
        total = len(batch.items) + len(batch.early)
        done = 0
        for rejected in batch.early:
            done += 1
            context.progress(done, total, rejected.source_ref)
            yield rejected
        for index, (item, parsed) in enumerate(parse_all(batch.items, zone, jobs, workers)):
            done += 1
            context.progress(done, total, item.ref)
            finish = batch.finish.get(index)
            targets = batch.targets[index]
            if parsed.reason is not None:
                if item.member is None:
                    aside = _aside(batch.owner[index], targets.rejected_dir)
                else:
                    aside = _entry_aside(batch.owner[index], item.ref, targets.rejected_dir, item)
                yield Rejected(item.ref, parsed.reason, _then(aside, finish))
                continue
            after: Callable[[], None] | None = None
            if item.member is None and targets.archive_dir is not None:
                after = _archiver(item.path, targets.archive_dir)
            single = len(parsed.activities) == 1
            for position, activity in enumerate(parsed.activities):
                last = position == len(parsed.activities) - 1
                hook = _chain(after, finish) if last else None
                yield Imported(activity, parsed.fingerprint if single else None, hook)
        context.progress(total, total, "")
        close_archives()  # those opened here to copy rejected entries out


def _chain(*hooks: Callable[[], None] | None) -> Callable[[], None] | None:
    present = [h for h in hooks if h is not None]
    if not present:
        return None

    def run() -> None:
        for hook in present:
            hook()

    return run


def _then(
    aside: Callable[[str], str | None], finish: Callable[[], None] | None
) -> Callable[[str], str | None]:
    if finish is None:
        return aside

    def run(reason: str) -> str | None:
        where = aside(reason)
        finish()
        return where

    return run


def _aside(path: Path, rejected_dir: Path) -> Callable[[str], str | None]:
    def move(reason: str) -> str | None:
        try:
            return display(set_aside(path, reason, rejected_dir))
        except FileNotFoundError:  # moved meanwhile by another run: nothing left to set aside
            return None

    return move


def _entry_aside(
    archive: Path, ref: str, rejected_dir: Path, item: WorkItem | None = None
) -> Callable[[str], str | None]:
    """A rejected archive entry: a copy of it (when it can be read safely) and its reason, in
    rejected/<archive name>/; the archive itself stays whole."""

    def write(reason: str) -> str | None:
        folder = rejected_dir / archive.name
        folder.mkdir(parents=True, exist_ok=True)
        member_name = ref.rsplit("!", 1)[-1]
        base = PurePosixPath(member_name.replace("\\", "/")).name or "entry"
        target = free_name(folder / base)
        if item is not None:
            with contextlib.suppress(InputError, OSError, KeyError, zipfile.BadZipFile):
                target.write_bytes(read_input(item))
        reason_file = target.with_name(target.name + REASON_SUFFIX)
        reason_file.write_text(f"{ref}\n{reason}\n", encoding="utf-8", errors="replace")
        return display(target if target.exists() else reason_file)

    return write


def _archiver(path: Path, archive_dir: Path) -> Callable[[], None]:
    def move() -> None:
        with contextlib.suppress(FileNotFoundError):  # moved meanwhile by another run
            move_to(path, archive_dir)

    return move


def settled(path: Path, settle_seconds: float, busy: frozenset[Path], now: float | None = None) -> bool:
    """Complete enough to read: not known open for writing, and untouched for ``settle_seconds``."""
    if path in busy:
        return False
    try:
        modified = path.lstat().st_mtime
    except OSError:
        return False
    return (now if now is not None else time.time()) - modified >= settle_seconds


def inbox_files(inbox: Path, skip: Iterable[Path]) -> list[Path]:
    """Candidate files at the inbox's top level (archive/ and rejected/ folders are not entered)."""
    skipped = {p.resolve() for p in skip}
    out = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or format_of(display(path.name)) is None:
            continue
        if path.is_dir() and not path.is_symlink():
            continue
        if path.resolve() in skipped:
            continue
        out.append(path)
    return out


def folder_files(folder: Path) -> list[Path]:
    """Candidate files anywhere below ``folder``, except its rejected/ and archive/ folders."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or format_of(display(name)) is None:
                continue
            out.append(Path(root) / name)
    return out
