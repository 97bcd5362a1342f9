"""Garmin Connect: new activities in as their original FIT files, with as few requests as possible.

One run:
  * nightly: list the newest activities (one request of ``NIGHTLY_PAGE``), stopping at the newest
    known start minus ``lookback_days``; every activity not yet known has its ORIGINAL file
    downloaded (a zip holding the FIT file the watch recorded) and read by the same decoder as a
    file dropped in the inbox. The FIT file's fingerprint and the cross-source match store a run
    that also arrives from Strava or the inbox once.
  * backfill (``sync --since DATE``): pages of ``BACKFILL_PAGE`` from DATE, oldest first; the page
    offset is kept in ``garmin.backfill`` after each page, so a stopped backfill resumes there.

State (``state`` table, keys ``garmin.*``): the tokens (garmin_api), the index of known activities
(id -> start), the backfill cursor, and the horizon of a nightly scan under way (a scan stopped
half-way reaches at least as far back next time, so no older activity is skipped). The index
advances only after an activity's transaction commits: a run killed mid-download downloads that
activity again next time, and stores it once.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from runstrong_sync.config import Config
from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.sources import ConnectorContext, Imported, Rejected, SourceEvent
from runstrong_sync.storage.db import Database

from .archives import ArchiveLimits, read_member
from .fitreader import FitReadError
from .formats import format_of, read_activity_file
from .garmin_api import SOURCE, GarminLink, GarminNotFoundError, GarminUnavailableError
from .garmin_plugin import GarminSettings

log = logging.getLogger(__name__)

INDEX_KEY = "garmin.index"
CURSOR_KEY = "garmin.backfill"
SCAN_KEY = "garmin.scan"  # the horizon of a nightly scan under way: a stopped one is finished next time
ACTIVITIES_PATH = "/activitylist-service/activities/search/activities"
NIGHTLY_PAGE = 20
BACKFILL_PAGE = 100
FIRST_SYNC_DAYS = 90  # the first sync reaches this far back; `sync --since` reaches further
ZIP_LIMITS = ArchiveLimits(max_entries=50, max_depth=0)


def start_of(summary: Mapping[str, Any]) -> datetime | None:
    """``startTimeGMT`` ("2026-11-20 06:30:00", UTC) of a list item."""
    value = summary.get("startTimeGMT")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=UTC)
    except ValueError:
        return None


def activity_file(data: bytes) -> tuple[str, bytes]:
    """The activity file inside Garmin's ORIGINAL download (a zip; sometimes the bare file)."""
    if not data.startswith(b"PK"):
        if len(data) > 12 and data[8:12] == b".FIT":
            return "activity.fit", data
        raise FitReadError("Garmin's original-file download is neither a zip nor a FIT file")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FitReadError(f"Garmin's original-file download is a damaged zip ({exc})") from exc
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir() and format_of(i.filename) is not None]
        members = [i for i in members if format_of(i.filename) != "zip"]
        if not members:
            raise FitReadError("Garmin's original-file download holds no FIT, GPX or TCX file")
        members.sort(key=lambda i: (format_of(i.filename) != "fit", i.filename))
        return members[0].filename, read_member(archive, members[0], ZIP_LIMITS)


class RunStats:
    """What one run cost, for the benchmark and `garmin status`."""

    def __init__(self) -> None:
        self.requests = 0
        self.list_requests = 0
        self.downloads = 0
        self.refreshes = 0
        self.complete = False

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class GarminConnector:
    """The ``garmin`` connector (entry point ``runstrong_sync.connectors``)."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self, config: Config, *, nightly_page: int = NIGHTLY_PAGE, backfill_page: int = BACKFILL_PAGE
    ) -> None:
        self.config = config
        self.settings = config.sources.get("garmin", GarminSettings)
        self.nightly_page = nightly_page
        self.backfill_page = backfill_page
        self.last_run: RunStats | None = None
        self.last_push: Any = None

    def fetch(self, context: ConnectorContext) -> Iterator[SourceEvent]:
        link = GarminLink(context.load_state, context.save_state)
        run = _Run(self, context, link)
        self.last_run = run.stats
        try:
            yield from run.events()
        finally:
            run.save()
            run.stats.requests = link.calls
            run.stats.refreshes = link.refreshes

    def publish_plan(
        self, context: ConnectorContext, sessions: Sequence[StrengthSession], db: Database, athlete: int
    ) -> str | None:
        """Write the stable window's sessions to Garmin Connect (``push_workouts``); a summary, or None."""
        if not self.settings.push_workouts:
            return None
        from . import garmin_push

        link = GarminLink(context.load_state, context.save_state)
        mappings = garmin_push.Mappings(db, athlete, context.now)
        hours = self.config.planner.stable_hours
        pushed = garmin_push.Pusher(link, mappings).run(sessions, context.now, hours)
        self.last_push = pushed
        return pushed.summary()


class _Run:
    def __init__(self, connector: GarminConnector, context: ConnectorContext, link: GarminLink) -> None:
        self.settings = connector.settings
        self.nightly_page = connector.nightly_page
        self.backfill_page = connector.backfill_page
        self.zone = connector.config.athlete.zone
        self.context = context
        self.link = link
        self.stats = RunStats()
        stored = context.load_state(INDEX_KEY) or {}
        self.index: dict[str, int] = {str(k): int(v) for k, v in dict(stored.get("activities", {})).items()}
        self.dirty = False

    def save(self) -> None:
        if self.dirty:
            self.context.save_state(INDEX_KEY, {"activities": self.index})
            self.dirty = False

    def events(self) -> Iterator[SourceEvent]:
        since = self.context.options.get("since")
        cursor = self.context.load_state(CURSOR_KEY) or {}
        if isinstance(since, date):
            if cursor.get("since") != since.isoformat():
                cursor = {"since": since.isoformat(), "start": 0}
            yield from self.backfill(cursor)
        elif cursor.get("since"):
            yield from self.backfill(cursor)  # a stopped backfill goes on first
        else:
            yield from self.recent()
        self.stats.complete = True

    def horizon(self) -> datetime:
        if self.index:
            newest = datetime.fromtimestamp(max(self.index.values()), UTC)
            return newest - timedelta(days=self.settings.lookback_days)
        return self.context.now.astimezone(UTC) - timedelta(days=FIRST_SYNC_DAYS)

    def page(self, what: str, **params: Any) -> list[dict[str, Any]]:
        self.stats.list_requests += 1
        items = self.link.get(ACTIVITIES_PATH, what, **params)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise GarminUnavailableError(
                f"Garmin Connect's activity list ({what}) is not a list of activities: {str(items)[:200]}",
                ["Garmin Connect's API is unofficial and may have changed; nothing was stored."],
            )
        return items

    def recent(self) -> Iterator[SourceEvent]:
        """Newest first, until the lookback horizon: one request when nothing is new."""
        horizon = self.horizon()
        unfinished = (self.context.load_state(SCAN_KEY) or {}).get("horizon")
        if isinstance(unfinished, int):
            horizon = min(horizon, datetime.fromtimestamp(unfinished, UTC))
        self.context.save_state(SCAN_KEY, {"horizon": int(horizon.timestamp())})
        yield from self.scan_to(horizon)
        self.context.save_state(SCAN_KEY, {})

    def scan_to(self, horizon: datetime) -> Iterator[SourceEvent]:
        start = 0
        while True:
            self.context.progress(start, None, "Garmin Connect activity list")
            size = self.nightly_page
            items = self.page(f"activities {start}-{start + size}", start=start, limit=size)
            reached = False
            for item in items:
                started = start_of(item)
                if started is not None and started < horizon:
                    reached = True
                    break
                yield from self.consider(item)
            if reached or len(items) < size:
                return
            start += size

    def backfill(self, cursor: dict[str, Any]) -> Iterator[SourceEvent]:
        """From ``since``, oldest first, a page at a time; the offset is saved after each page."""
        while True:
            offset, size = int(cursor.get("start", 0)), self.backfill_page
            self.context.progress(offset, None, f"Garmin Connect activities since {cursor['since']}")
            items = self.page(
                f"activities since {cursor['since']}, {offset}-{offset + size}",
                startDate=cursor["since"],
                start=offset,
                limit=size,
                sortOrder="asc",
            )
            for item in items:
                yield from self.consider(item)
            self.save()
            if len(items) < size:
                self.context.save_state(CURSOR_KEY, {})
                return
            cursor = {**cursor, "start": offset + len(items)}
            self.context.save_state(CURSOR_KEY, cursor)

    def consider(self, item: dict[str, Any]) -> Iterator[SourceEvent]:
        key = str(item.get("activityId", ""))
        started = start_of(item)
        if not key.isdigit() or started is None:
            yield Rejected(f"garmin:{key or '?'}", "a list item has no activityId or startTimeGMT")
            return
        if key in self.index:
            return
        if item.get("manualActivity") is True:  # entered by hand: there is no file to download
            self.remember(key, started)()
            return
        yield from self.download(key, started, item)

    def download(self, key: str, started: datetime, item: dict[str, Any]) -> Iterator[SourceEvent]:
        ref = f"garmin:{key}"
        self.stats.downloads += 1
        self.context.progress(self.stats.downloads, None, f"Garmin activity {key}")
        gc_download = self.link.api.download_activity
        original = self.link.api.ActivityDownloadFormat.ORIGINAL
        try:
            data = self.link.call(f"downloading activity {key}", gc_download, key, dl_fmt=original)
            name, content = activity_file(bytes(data))
            found = read_activity_file(content, name, ref, self.zone)
        except GarminNotFoundError:
            log.info("Garmin activity %s has no original file (entered by hand?); skipped", key)
            self.remember(key, started)()
            return
        except FitReadError as exc:
            self.remember(key, started)()  # not downloaded again every night; the rejection says why
            yield Rejected(ref, str(exc))
            return
        single = len(found.activities) == 1
        for position, activity in enumerate(found.activities):
            external = key if position == 0 else f"{key}-{position}"
            garmin = {k: item.get(k) for k in ("activityId", "activityName", "activityType", "startTimeGMT")}
            stored = replace(
                activity,
                source=SOURCE,
                source_ref=ref,
                external_id=external,
                name=item.get("activityName") if isinstance(item.get("activityName"), str) else activity.name,
                raw={**activity.raw, "garmin": garmin},
            )
            last = position == len(found.activities) - 1
            hook = self.remember(key, started) if last else None
            yield Imported(stored, found.fingerprint if single else None, hook)

    def remember(self, key: str, started: datetime) -> Callable[[], None]:
        def after_commit() -> None:
            self.index[key] = int(started.timestamp())
            self.dirty = True
            self.save()  # at once: a run killed later does not download this one again

        return after_commit
