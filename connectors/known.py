"""Files an inbox keeps after import (``after_import = "leave"``), recognised on later runs without
being decoded again: by size and modification time, and by a SHA-256 of the content when only the
time changed (a copy, a touch). Kept in the connector's state, so it holds only what the inbox
holds; a file whose entry is lost (a crash before the state was saved) is simply read again and
found to be known by the database, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from runstrong_sync.sources import ConnectorContext, Imported, SourceEvent

STATE_KEY = "fit_inbox_known"
Entry = list[int | str]  # size, mtime_ns, sha256 of the bytes on disk


def _display(path: Path) -> str:
    return os.fsencode(str(path)).decode("utf-8", errors="replace")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class KnownFiles:
    def __init__(self, context: ConnectorContext) -> None:
        self._context = context
        stored = context.load_state(STATE_KEY) or {}
        files = stored.get("files")
        self._before: dict[str, Entry] = files if isinstance(files, dict) else {}
        self._now: dict[str, Entry] = {}
        self._stats: dict[str, tuple[Path, int, int]] = {}

    def unknown(self, paths: Iterable[Path]) -> list[Path]:
        """The files not imported before, unchanged; the others are remembered again as they are."""
        fresh = []
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                fresh.append(path)  # the reader reports what is wrong with it
                continue
            name = _display(path)
            entry = self._before.get(name)
            same_size = entry is not None and entry[0] == stat.st_size
            if (
                same_size
                and entry is not None
                and (entry[1] == stat.st_mtime_ns or entry[2] == _sha256(path))
            ):
                self._now[name] = [stat.st_size, stat.st_mtime_ns, entry[2]]
                continue
            self._stats[name] = (path, stat.st_size, stat.st_mtime_ns)
            fresh.append(path)
        return fresh

    def remember(self, events: Iterable[SourceEvent]) -> Iterator[SourceEvent]:
        """Pass ``events`` on; once all are stored, save the files they came from as known."""
        for event in events:
            yield event  # the pipeline stores it before asking for the next one
            if isinstance(event, Imported):
                seen = self._stats.get(event.activity.source_ref)
                if seen is not None:
                    path, size, mtime_ns = seen
                    with contextlib.suppress(OSError):  # gone meanwhile: read again if it comes back
                        self._now[event.activity.source_ref] = [size, mtime_ns, _sha256(path)]
        if self._now != self._before:
            self._context.save_state(STATE_KEY, {"files": self._now})
