"""One input read and parsed: what the worker processes of a bulk import run.

Kept apart from the parent's side (connectors/intake.py) so that a worker process loads the readers
and little else: no connector interface, no pydantic, no database.
"""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from runstrong_sync.core.domain import Activity
from runstrong_sync.errors import InputError

from .archives import ArchiveLimits, read_member
from .formats import MAX_FILE_BYTES, ExportHints, read_activity_file

DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True, slots=True)
class WorkItem:
    ref: str  # stored as the activity's source_ref and shown to people
    path: Path  # the file, or the zip that holds ``member``
    member: str | None = None
    hints: ExportHints | None = None


@dataclass(slots=True)
class Parsed:
    activities: list[Activity] = field(default_factory=list)
    fingerprint: str | None = None
    records: int = 0
    decoder: str | None = None
    reason: str | None = None


_open_archives: OrderedDict[Path, zipfile.ZipFile] = OrderedDict()


def _archive(path: Path) -> zipfile.ZipFile:
    """Archives stay open in each worker: reopening re-reads the whole central directory."""
    archive = _open_archives.get(path)
    if archive is None:
        archive = zipfile.ZipFile(path)
        _open_archives[path] = archive
        while len(_open_archives) > 4:
            _open_archives.popitem(last=False)[1].close()
    else:
        _open_archives.move_to_end(path)
    return archive


def read_input(item: WorkItem) -> bytes:
    if item.member is not None:
        archive = _archive(item.path)
        return read_member(archive, archive.getinfo(item.member), DEFAULT_LIMITS)
    with item.path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InputError("the file is larger than any activity file (64 MiB); not read")
    return data


def parse_item(item: WorkItem, zone: ZoneInfo) -> Parsed:
    """Read and parse one input; every failure becomes a reason, never an exception."""
    name = item.member or item.path.name
    try:
        data = read_input(item)
        found = read_activity_file(data, name, item.ref, zone, item.hints)
    except InputError as exc:
        return Parsed(reason=str(exc))
    except OSError as exc:
        return Parsed(reason=f"the file cannot be read: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug must cost one file, not the import
        return Parsed(reason=f"the file could not be decoded ({type(exc).__name__}: {exc})")
    return Parsed(found.activities, found.fingerprint, found.records, found.decoder)


def parse_batch(items: Sequence[WorkItem], zone: ZoneInfo) -> list[Parsed]:
    """A few files per task: fewer round trips between the processes."""
    return [parse_item(item, zone) for item in items]


def close_archives() -> None:
    while _open_archives:
        _open_archives.popitem()[1].close()
