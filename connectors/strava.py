"""Strava: new, edited and deleted activities with as few API requests as the job allows.

One run:
  1. list ``/athlete/activities?after=`` from the newest known start minus the lookback window (or
     ``--since``, or where a stopped run left off), pages of 200, oldest first; activities whose
     summary changed are imported again, known ones that vanished from a complete scan are deleted;
  2. apply queued webhook events (``strava_webhook``) not already covered by the listing;
  3. fetch HR/speed streams for recent runs the summary cannot label with confidence, within the
     per-run budget; runs over the budget wait in ``strava.pending`` for the next run.

State (the ``state`` table, keys ``strava.*``): tokens, the index of known activities (id -> start,
summary hash, streams), the resume cursor, the last rate-limit reading, pending stream fetches,
the webhook queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import requests

from runstrong_sync.config import Config
from runstrong_sync.core import classify
from runstrong_sync.core.derive import derive_metrics
from runstrong_sync.core.domain import Activity, DerivedMetrics, Label
from runstrong_sync.core.text import clean_optional
from runstrong_sync.core.zones import resolve_zones
from runstrong_sync.sources import ConnectorContext, Deleted, Imported, Rejected, SourceEvent

from . import strava_http as http
from .strava_http import NotFoundError, RateBudget, StravaApi, TokenKeeper
from .strava_plugin import StravaSettings

log = logging.getLogger(__name__)

SOURCE = "strava"
INDEX_KEY = "strava.index"
CURSOR_KEY = "strava.cursor"
PENDING_KEY = "strava.pending"
QUEUE_KEY = "strava.webhook"
QUEUE_DONE_KEY = "strava.webhook_done"
PER_PAGE = 200
# Strava drops a few hidden items from a page; a page this much shorter than asked is the last one.
SHORT_PAGE_SLACK = 10
FIRST_SYNC_DAYS = 90  # the first sync reaches this far back; `sync --since` reaches further
STREAMS_WINDOW_DAYS = 56  # older runs' labels no longer move the plan: no streams for them
CONFIDENT = 0.5  # below this a label is uncertain and planned around as hard: streams decide
STREAM_KEYS = "time,heartrate,velocity_smooth,distance,altitude,grade_smooth"
MAX_OFFSET_S = 14 * 3600

# Strava sport_type -> our normalised sport; anything else becomes lower snake case.
SPORTS = {
    "Run": "run",
    "TrailRun": "trail_run",
    "VirtualRun": "virtual_run",
    "Ride": "ride",
    "WeightTraining": "strength",
    "Workout": "workout",
    "Crossfit": "crossfit",
    "Swim": "swim",
    "Walk": "walk",
    "Hike": "hike",
    "Rowing": "rowing",
    "Elliptical": "elliptical",
}
# Fields whose change means the stored activity needs updating (the rest is decoration).
SUMMARY_FIELDS = (
    "name",
    "sport_type",
    "type",
    "start_date",
    "start_date_local",
    "distance",
    "moving_time",
    "elapsed_time",
    "average_heartrate",
    "max_heartrate",
    "average_speed",
    "workout_type",
    "trainer",
    "manual",
    "private",
    "visibility",
    "has_heartrate",
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def normalise_sport(sport_type: Any, trainer: bool = False) -> str:
    """Run -> run (treadmill_run on a trainer), TrailRun -> trail_run; unknown types keep their name."""
    name = str(sport_type).strip() if sport_type else ""
    if not name:
        return "workout"
    if name == "Run" and trainer:
        return "treadmill_run"
    known = SPORTS.get(name)
    if known is not None:
        return known
    snake = _CAMEL.sub("_", name).lower()
    return re.sub(r"[^a-z0-9]+", "_", snake).strip("_") or "workout"


def parse_strava_time(value: Any) -> datetime | None:
    """Strava timestamps end in Z; read them as naive wall or UTC times by the caller's choice."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_offset_s(raw: Mapping[str, Any], start_utc: datetime, fallback_s: int) -> int:
    """``start_date_local`` is local wall time written with a Z: its difference from UTC is the offset."""
    local = parse_strava_time(raw.get("start_date_local"))
    if local is not None:
        seconds = round((local - start_utc).total_seconds())
        if abs(seconds) <= MAX_OFFSET_S:
            return seconds
    offset = raw.get("utc_offset")
    if isinstance(offset, int | float) and abs(offset) <= MAX_OFFSET_S:
        return int(offset)
    return fallback_s


def _number(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class SummaryError(ValueError):
    """A summary that cannot become an activity (no id or no start time)."""


def activity_from_summary(
    raw: Mapping[str, Any], fallback_offset_s: int = 0, derived: DerivedMetrics | None = None
) -> Activity:
    """A listing item or a detail payload, as a dict (stravalib's models reject fractional values)."""
    activity_id = raw.get("id")
    if not isinstance(activity_id, int) or isinstance(activity_id, bool):
        raise SummaryError(f"the activity has no numeric id ({activity_id!r})")
    start = parse_strava_time(raw.get("start_date"))
    if start is None:
        raise SummaryError(f"activity {activity_id} has no readable start_date ({raw.get('start_date')!r})")
    trainer = bool(raw.get("trainer"))
    sport = normalise_sport(raw.get("sport_type") or raw.get("type"), trainer)
    elapsed = _number(raw, "elapsed_time") or 0.0
    moving = _number(raw, "moving_time") or elapsed
    workout_type = raw.get("workout_type")
    summary_map = raw.get("map")
    if not isinstance(summary_map, dict):
        summary_map = {}
    has_gps = bool(raw.get("start_latlng")) or bool(summary_map.get("summary_polyline"))
    return Activity(
        source=SOURCE,
        source_ref=str(activity_id),
        external_id=str(activity_id),
        sport=sport,
        start_utc=start,
        utc_offset_s=utc_offset_s(raw, start, fallback_offset_s),
        elapsed_s=elapsed,
        moving_s=moving,
        distance_m=_number(raw, "distance"),
        name=clean_optional(raw.get("name")),  # outside text: cleaned where it enters
        avg_hr=_number(raw, "average_heartrate"),
        max_hr=_number(raw, "max_heartrate"),
        avg_speed_mps=_number(raw, "average_speed"),
        workout_type=workout_type if isinstance(workout_type, int) and sport.endswith("run") else None,
        trainer=trainer,
        has_gps=has_gps,
        derived=derived,
        raw=dict(raw),
    )


def summary_hash(raw: Mapping[str, Any]) -> str:
    picked = {key: raw.get(key) for key in SUMMARY_FIELDS}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:16]


def derived_from_streams(streams: Any) -> DerivedMetrics | None:
    """Streams keyed by type (``key_by_type=true``); missing streams are simply absent."""
    if not isinstance(streams, dict):
        return None

    def series(key: str) -> list[Any]:
        entry = streams.get(key)
        data = entry.get("data") if isinstance(entry, dict) else None
        return list(data) if isinstance(data, list) else []

    times = series("time")
    if len(times) < 2:
        return None
    n = len(times)

    def aligned(key: str) -> list[float | None]:
        values = series(key)
        if len(values) != n:
            return [None] * n
        return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None for v in values]

    heart_rate, speed, distance = aligned("heartrate"), aligned("velocity_smooth"), aligned("distance")
    if all(v is None for v in heart_rate) and all(v is None for v in speed):
        return None
    stamps = [float(t) if isinstance(t, int | float) else None for t in times]
    altitude = aligned("altitude")
    if all(v is None for v in altitude):
        altitude = _altitude_from_grade(aligned("grade_smooth"), distance)
    return derive_metrics(stamps, heart_rate, speed, distance, altitude)


def _altitude_from_grade(grade: list[float | None], distance: list[float | None]) -> list[float | None]:
    """Strava's ``grade_smooth`` (percent) climbed along the ``distance`` stream, as altitude."""
    if all(g is None for g in grade) or all(d is None for d in distance):
        return [None] * len(grade)
    out: list[float | None] = []
    height = 0.0
    last: float | None = None
    for g, d in zip(grade, distance, strict=True):
        if d is not None and last is not None and g is not None:
            height += g / 100 * max(0.0, d - last)
        last = d if d is not None else last
        out.append(height)
    return out


class StravaConnector:
    """The ``strava`` connector (entry point ``runstrong_sync.connectors``)."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        config: Config,
        *,
        clock: http.Clock = http.utc_now,
        sleep: Callable[[float], None] = time.sleep,
        on_token_received: Callable[[], None] | None = None,
        timeout: tuple[float, float] = http.DEFAULT_TIMEOUT,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.settings = config.sources.get("strava", StravaSettings)
        self.clock = clock
        self.sleep = sleep
        self.on_token_received = on_token_received
        self.last_run: RunStats | None = None

    def fetch(self, context: ConnectorContext) -> Iterator[SourceEvent]:
        own_session = context.http_session is None
        session = http.routed_session(self.settings.api_base_url, context.http_session, self.timeout)
        budget = RateBudget(self.settings.rate_limit_reserve, self.clock, context.load_state(http.RATE_KEY))
        client = http.make_client(session)
        tokens = TokenKeeper(
            client,
            context.load_state,
            context.save_state,
            self.settings.client_id,
            self.settings.client_secret,
            self.clock,
            on_token_received=self.on_token_received,
            update_state=context.update_state,
        )
        api = StravaApi(client, tokens, budget, sleep=self.sleep)
        run = _Run(self, context, api, tokens)
        self.last_run = run.stats
        with http.observed(session, budget):
            try:
                yield from run.events()
            finally:
                run.save()
                context.save_state(http.RATE_KEY, budget.to_state())
                run.stats.requests = api.requests
                run.stats.refreshes = tokens.refreshes
                run.stats.responses_429 = budget.responses_429
                if own_session:
                    session.close()


class RunStats:
    """What one run cost, for the benchmark and `strava status`."""

    def __init__(self) -> None:
        self.requests = 0
        self.list_requests = 0
        self.detail_requests = 0
        self.stream_requests = 0
        self.refreshes = 0
        self.responses_429 = 0
        self.complete = False

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class _Run:
    """The state of one sync run; its after-commit hooks keep the index in step with the database."""

    def __init__(
        self, connector: StravaConnector, context: ConnectorContext, api: StravaApi, tokens: TokenKeeper
    ) -> None:
        self.connector = connector
        self.settings = connector.settings
        self.context = context
        self.api = api
        self.tokens = tokens
        self.stats = RunStats()
        stored = context.load_state(INDEX_KEY) or {}
        self.index: dict[str, list[Any]] = dict(stored.get("activities", {}))
        self.cursor: dict[str, Any] = context.load_state(CURSOR_KEY) or {}
        self.pending: dict[str, Any] = dict((context.load_state(PENDING_KEY) or {}).get("activities", {}))
        self.streams_left = self.settings.stream_budget
        self.dirty = False
        self.seen: set[str] = set()
        config = connector.config
        athlete = config.athlete
        self.zones = resolve_zones(
            max_hr=athlete.max_hr,
            threshold_hr=athlete.threshold_hr,
            resting_hr=athlete.resting_hr,
            threshold_speed_mps=athlete.threshold_speed_mps,
        )
        offset = context.now.astimezone(athlete.zone).utcoffset()
        self.fallback_offset_s = int(offset.total_seconds()) if offset is not None else 0

    # --- the run ----------------------------------------------------------------------------------

    def events(self) -> Iterator[SourceEvent]:
        """A deauthorization event is believed only when Strava refuses the token (events are not
        signed): until then the run goes on as usual, and the event is dropped."""
        revoke = any(self._revokes(e) for e in self.queued())
        try:
            yield from self.scan()
            if revoke:
                log.warning("A deauthorization event arrived, but Strava still accepts the token: ignored.")
            yield from self.webhook_events()
            yield from self.pending_streams()
        except http.StravaRevokedError:
            if not revoke:
                raise
            yield from self.deauthorized()
        self.stats.complete = True

    def save(self) -> None:
        if self.dirty:
            self.context.save_state(INDEX_KEY, {"activities": self.index})
            self.context.save_state(PENDING_KEY, {"activities": self.pending})
            self.dirty = False

    def scan_start(self) -> int:
        since = self.context.options.get("since")
        if isinstance(since, date):
            start = datetime(since.year, since.month, since.day, tzinfo=UTC)
            return int(start.timestamp())
        starts = [entry[0] for entry in self.index.values()]
        if starts:
            after = int(max(starts) - timedelta(days=self.settings.lookback_days).total_seconds())
        else:
            after = int((self.context.now - timedelta(days=FIRST_SYNC_DAYS)).timestamp())
        resume = self.cursor.get("resume_after")
        return min(after, int(resume)) if isinstance(resume, int) else after

    def scan(self) -> Iterator[SourceEvent]:
        after = self.scan_start()
        page = 1
        while True:
            self.context.progress(len(self.seen), None, f"Strava page {page}")
            self.stats.list_requests += 1
            items = self.api.get("/athlete/activities", after=after, page=page, per_page=PER_PAGE)
            if not isinstance(items, list):
                raise http.StravaUnavailableError(
                    f"Strava's activity list (page {page}) is not a list: {str(items)[:200]}."
                )
            for raw in items:
                yield from self.consider(raw)
            if items:
                self.checkpoint(items)
            if len(items) < PER_PAGE - SHORT_PAGE_SLACK:
                break
            page += 1
        yield from self.vanished(after)
        if "resume_after" in self.cursor:
            self.cursor = {}
            self.context.save_state(CURSOR_KEY, self.cursor)

    def checkpoint(self, items: list[Any]) -> None:
        """After a page: remember how far the scan got, so a stopped run resumes here."""
        starts = [parse_strava_time(r.get("start_date")) for r in items if isinstance(r, dict)]
        latest = max((s for s in starts if s is not None), default=None)
        self.save()
        if latest is not None:
            self.cursor = {"resume_after": int(latest.timestamp()) - 1}
            self.context.save_state(CURSOR_KEY, self.cursor)

    def vanished(self, after: int) -> Iterator[SourceEvent]:
        """Known activities inside a completely scanned range that Strava no longer lists."""
        gone = [key for key, entry in self.index.items() if entry[0] > after + 1 and key not in self.seen]
        for key in gone:
            yield Deleted(SOURCE, key, after_commit=self._forget(key))

    def consider(self, raw: Any) -> Iterator[SourceEvent]:
        if not isinstance(raw, dict):
            yield Rejected(f"strava:{str(raw)[:40]}", "a list item is not an activity object")
            return
        key = str(raw.get("id"))
        self.seen.add(key)
        known = self.index.get(key)
        digest = summary_hash(raw)
        if known is not None and known[1] == digest:
            return
        yield from self.imported(raw, digest)

    def imported(self, raw: dict[str, Any], digest: str) -> Iterator[SourceEvent]:
        try:
            activity = activity_from_summary(raw, self.fallback_offset_s)
        except SummaryError as err:
            yield Rejected(f"strava:{raw.get('id')}", str(err))
            return
        streams = "none"
        if self.wants_streams(activity):
            if self.streams_left > 0:
                derived = self.fetch_streams(activity.external_id)
                if derived is not None:
                    activity = activity_from_summary(raw, self.fallback_offset_s, derived)
                streams = "done"
            else:
                streams = "pending"
        yield Imported(activity, after_commit=self._remember(activity, digest, streams, raw))

    def queued(self) -> list[dict[str, Any]]:
        """Webhook events not applied yet, oldest first."""
        queue = self.context.load_state(QUEUE_KEY) or {}
        done = int((self.context.load_state(QUEUE_DONE_KEY) or {}).get("seq", 0))
        events = [e for e in queue.get("events", []) if int(e.get("seq", 0)) > done]
        return sorted(events, key=lambda e: int(e.get("seq", 0)))

    def _revokes(self, event: Mapping[str, Any]) -> bool:
        updates = event.get("updates") or {}
        return (
            event.get("object_type") == "athlete"
            and str(updates.get("authorized", "")).lower() == "false"
            and self._is_us(event.get("object_id"))
        )

    def webhook_events(self) -> Iterator[SourceEvent]:
        """Apply queued events while the run's request budget lasts; the rest wait for the next run."""
        for event in self.queued():
            if self._needs_request(event) and self.streams_left <= 0:
                break
            yield from self.apply_event(event)
            self.context.save_state(QUEUE_DONE_KEY, {"seq": int(event.get("seq", 0))})

    def _needs_request(self, event: Mapping[str, Any]) -> bool:
        key = str(event.get("object_id"))
        if event.get("object_type") != "activity" or key in self.seen:
            return False  # the listing already brought its current state
        return event.get("aspect_type") != "delete" or key in self.index

    def apply_event(self, event: Mapping[str, Any]) -> Iterator[SourceEvent]:
        """Events are not signed: each one only makes us ask Strava. A delete is applied when Strava
        answers 404 for that activity; one it still has is read again instead."""
        if not self._needs_request(event):
            return
        key = str(event.get("object_id"))
        self.seen.add(key)
        self.streams_left -= 1  # event look-ups share the run's budget with the streams
        self.stats.detail_requests += 1
        try:
            raw = self.api.get(f"/activities/{key}")
        except NotFoundError:
            if key in self.index:
                yield Deleted(SOURCE, key, after_commit=self._forget(key))
            return
        if isinstance(raw, dict):
            digest = summary_hash(raw)
            known = self.index.get(key)
            if known is None or known[1] != digest:
                yield from self.imported(raw, digest)

    def deauthorized(self) -> Iterator[SourceEvent]:
        """Strava confirmed the revocation: hide the activities for 30 days, forget the tokens. A run
        stopped half-way is finished by the next one (the event stays queued, Strava still refuses)."""
        hidden = len(self.index)
        for key in list(self.index):
            yield Deleted(SOURCE, key, after_commit=self._forget(key), tombstone=True)
        self.pending.clear()
        self.dirty = True
        self.save()
        self.context.save_state(http.TOKENS_KEY, {"revoked_at": self.context.now.isoformat()})
        self.context.save_state(QUEUE_KEY, {"events": []})
        raise http.StravaAccessError(
            f"You revoked runstrong-sync's access in Strava: the tokens were forgotten and the {hidden} "
            "Strava activities kept here are hidden, and deleted after 30 days.",
            [
                "`runstrong-sync strava restore` brings them back now.",
                http.REAUTHORIZE_HINT + " (only if you want Strava back)",
            ],
        )

    def _is_us(self, athlete_id: Any) -> bool:
        ours = self.tokens.athlete_id
        return ours is None or str(ours) == str(athlete_id)

    def pending_streams(self) -> Iterator[SourceEvent]:
        horizon = self.context.now - timedelta(days=STREAMS_WINDOW_DAYS)
        for key, raw in list(self.pending.items()):
            if key in self.seen and self.index.get(key, [0, "", ""])[2] != "pending":
                continue
            try:
                activity = activity_from_summary(raw, self.fallback_offset_s)
            except SummaryError:
                del self.pending[key]
                self.dirty = True
                continue
            if activity.start_utc < horizon or key not in self.index:
                del self.pending[key]
                self.dirty = True
                continue
            if self.streams_left <= 0:
                break
            derived = self.fetch_streams(key)
            if derived is not None:
                activity = activity_from_summary(raw, self.fallback_offset_s, derived)
            yield Imported(activity, after_commit=self._remember(activity, summary_hash(raw), "done", raw))

    # --- streams ----------------------------------------------------------------------------------

    def wants_streams(self, activity: Activity) -> bool:
        mode = self.settings.streams
        if mode == "never" or not activity.is_run or activity.raw.get("manual"):
            return False
        if activity.start_utc < self.context.now - timedelta(days=STREAMS_WINDOW_DAYS):
            return False
        if not (activity.raw.get("has_heartrate") or activity.has_gps or activity.trainer):
            return False
        if mode == "always":
            return True
        label = classify.classify(activity, self.zones)
        return not (label.label is Label.LONG or label.confidence >= CONFIDENT)

    def fetch_streams(self, key: str) -> DerivedMetrics | None:
        self.streams_left -= 1
        self.stats.stream_requests += 1
        try:
            streams = self.api.get(f"/activities/{key}/streams", keys=STREAM_KEYS, key_by_type="true")
        except NotFoundError:
            return None
        return derived_from_streams(streams)

    # --- after-commit hooks -----------------------------------------------------------------------

    def _remember(
        self, activity: Activity, digest: str, streams: str, raw: dict[str, Any]
    ) -> Callable[[], None]:
        key = activity.external_id

        def remember() -> None:
            self.index[key] = [int(activity.start_utc.timestamp()), digest, streams]
            if streams == "pending":
                self.pending[key] = raw
            else:
                self.pending.pop(key, None)
            self.dirty = True

        return remember

    def _forget(self, key: str) -> Callable[[], None]:
        def forget() -> None:
            self.index.pop(key, None)
            self.pending.pop(key, None)
            self.dirty = True

        return forget


def session_for(config: Config, session: requests.Session | None = None) -> requests.Session:
    """A requests session routed to ``sources.strava.api_base_url`` (for the CLI's own calls)."""
    return http.routed_session(config.sources.get("strava", StravaSettings).api_base_url, session)
