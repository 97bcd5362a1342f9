"""The storage operations the pipeline needs; each runs inside the caller's transaction."""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from runstrong_sync.core.domain import (
    Activity,
    Classification,
    Label,
    LabelledActivity,
    SessionStatus,
    StrengthSession,
    SyncOutcome,
)
from runstrong_sync.core.text import clean_optional
from runstrong_sync.storage import codec
from runstrong_sync.storage.models import (
    PAYLOAD_SCHEMA_VERSION,
    ActivityRow,
    ActivitySource,
    Athlete,
    RejectionRow,
    SessionRow,
    StateRow,
    SyncRunRow,
)
from runstrong_sync.tzdetect import zone_columns

MATCH_START_S = 120  # the same run from two sources starts within 2 minutes...
MATCH_TOLERANCE = 0.05  # ...and agrees on duration and distance within 5 %
# Richer sources win when the same activity arrives twice: a file has the full record series.
# Raw payload parts that describe the activity from elsewhere: kept when a copy without them is read.
KEPT_RAW_KEYS = ("also_from", "strava_export")
IDS_ARE_ACTIVITIES = frozenset({"strava", "garmin"})  # sources whose ids each name a distinct activity
SOURCE_RICHNESS = {"fit": 3, "garmin": 3, "tcx": 2, "gpx": 2, "strava": 1}  # garmin: the original FIT


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class UpsertResult:
    activity_id: int
    outcome: Outcome


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


def rotate_feed_token(session: Session, athlete_id: int) -> str:
    """Give the athlete a new feed token; the old feed URLs stop working."""
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        raise LookupError(f"no athlete with id {athlete_id}")
    athlete.feed_token = new_feed_token()
    return athlete.feed_token


def feed_token(session: Session, athlete_id: int) -> str:
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        raise LookupError(f"no athlete with id {athlete_id}")
    return athlete.feed_token


def ensure_athlete(session: Session, key: str, name: str, now: datetime) -> Athlete:
    athlete = session.scalar(select(Athlete).where(Athlete.key == key))
    if athlete is None:
        athlete = Athlete(key=key, name=name, feed_token=new_feed_token(), settings_json={}, created_at=now)
        session.add(athlete)
        session.flush()
    elif athlete.name != name:
        athlete.name = name
    return athlete


def _apply(row: ActivityRow, activity: Activity, now: datetime) -> None:
    row.source = activity.source
    row.source_ref = activity.source_ref
    row.external_id = activity.external_id
    row.sport = activity.sport
    row.name = clean_optional(activity.name)  # any connector's names, whatever it did itself
    row.start_utc = activity.start_utc
    row.utc_offset_s = activity.utc_offset_s
    row.elapsed_s = activity.elapsed_s
    row.moving_s = activity.moving_s
    row.distance_m = activity.distance_m
    row.avg_hr = activity.avg_hr
    row.max_hr = activity.max_hr
    row.avg_speed_mps = activity.avg_speed_mps
    row.workout_type = activity.workout_type
    row.training_effect = activity.training_effect
    row.anaerobic_training_effect = activity.anaerobic_training_effect
    row.trainer = activity.trainer
    row.has_gps = activity.has_gps
    row.laps_json = codec.laps_to_json(activity.laps)
    row.derived_json = codec.derived_to_json(activity.derived)
    row.raw_json = activity.raw
    row.time_zone, row.file_offset_s = zone_columns(activity.source, activity.utc_offset_s, activity.raw)
    row.schema_version = PAYLOAD_SCHEMA_VERSION
    row.updated_at = now


# Columns that are not the activity's content: identity, bookkeeping, and the labels set later.
NOT_CONTENT = frozenset(
    {"id", "athlete_id", "created_at", "updated_at", "source_ref", "label", "label_override", "confidence"}
    | {"reasons_json", "tombstoned_at"}
)


def _same_content(row: ActivityRow, activity: Activity) -> bool:
    """True when storing ``activity`` would change nothing (the same file under another name counts)."""
    probe = ActivityRow()
    _apply(probe, activity, row.updated_at)
    columns = [c.key for c in ActivityRow.__table__.columns if c.key not in NOT_CONTENT]
    return all(_plain(getattr(probe, c)) == _plain(getattr(row, c)) for c in columns)


def _plain(value: Any) -> Any:
    """JSON columns compared as stored: tuples come back as lists."""
    return json.loads(json.dumps(value)) if isinstance(value, (dict, list, tuple)) else value


def find_match(session: Session, athlete_id: int, activity: Activity) -> ActivityRow | None:
    """The same activity recorded by another source: start within 2 min, duration and distance within 5 %."""
    window = timedelta(seconds=MATCH_START_S)
    candidates = session.scalars(
        select(ActivityRow).where(
            ActivityRow.athlete_id == athlete_id,
            ActivityRow.start_utc >= activity.start_utc - window,
            ActivityRow.start_utc <= activity.start_utc + window,
            ActivityRow.tombstoned_at.is_(None),
        )
    ).all()
    for row in candidates:
        # Two Strava activities are two activities, however alike (two files may be one run).
        if activity.source in IDS_ARE_ACTIVITIES and any(i.source == activity.source for i in row.sources):
            continue
        if _close(row.elapsed_s, activity.elapsed_s) and _close(row.distance_m, activity.distance_m):
            return row
    return None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    return abs(a - b) <= MATCH_TOLERANCE * max(abs(a), abs(b))


def upsert_activity(
    session: Session, athlete_id: int, activity: Activity, now: datetime, fingerprint: str | None = None
) -> UpsertResult:
    """Store once: by source identity, then by file fingerprint, then by the cross-source match."""
    identity = session.scalar(
        select(ActivitySource).where(
            ActivitySource.athlete_id == athlete_id,
            ActivitySource.source == activity.source,
            ActivitySource.external_id == activity.external_id,
        )
    )
    row: ActivityRow | None = identity.activity if identity is not None else None
    if row is None and fingerprint is not None:
        same_file = session.scalar(
            select(ActivitySource).where(
                ActivitySource.athlete_id == athlete_id, ActivitySource.fingerprint == fingerprint
            )
        )
        if same_file is not None:
            return UpsertResult(same_file.activity_id, Outcome.DUPLICATE)
    if row is None:
        row = find_match(session, athlete_id, activity)
    if row is None:
        row = ActivityRow(athlete_id=athlete_id, created_at=now, reasons_json=[])
        _apply(row, activity, now)
        session.add(row)
        session.flush()
        _add_identity(session, athlete_id, row.id, activity, fingerprint, now)
        return UpsertResult(row.id, Outcome.CREATED)

    if identity is None:
        _add_identity(session, athlete_id, row.id, activity, fingerprint, now)
    if row.tombstoned_at is not None:  # the source gives it back (authorized again): it returns
        row.tombstoned_at = None
        _apply(row, _keep_known(row, activity), now)
        return UpsertResult(row.id, Outcome.UPDATED)
    # The very record the row holds, again (perhaps edited at the source): store what it says now.
    if identity is not None and (row.source, row.external_id) == (activity.source, activity.external_id):
        activity = _keep_known(row, activity)
        if _same_content(row, activity):
            return UpsertResult(row.id, Outcome.DUPLICATE)
        _apply(row, activity, now)
        return _updated(row)
    rank_new = SOURCE_RICHNESS.get(activity.source, 0)
    rank_old = SOURCE_RICHNESS.get(row.source, 0)
    if rank_new > rank_old or (rank_new == rank_old and _detail(activity) > _detail(row_to_activity(row))):
        raw = dict(activity.raw)
        raw.setdefault("also_from", {})[row.source] = row.raw_json
        workout_type = row.workout_type  # Strava's own tag is worth keeping beside the file's detail
        name = row.name
        _apply(row, activity, now)
        row.raw_json = raw
        if activity.workout_type is None:
            row.workout_type = workout_type
        if activity.name is None:
            row.name = name
        return _updated(row)
    if (row.name is None and activity.name is not None) or (
        row.workout_type is None and activity.workout_type is not None
    ):  # the poorer copy still knows what the activity was called, or that it was a race
        row.name = row.name or activity.name
        row.workout_type = row.workout_type if row.workout_type is not None else activity.workout_type
        row.updated_at = now
        return _updated(row)
    return UpsertResult(row.id, Outcome.DUPLICATE)


def _updated(row: ActivityRow) -> UpsertResult:
    """A stored activity changed: its label is made again by the next relabel, however old it is."""
    row.label = None
    return UpsertResult(row.id, Outcome.UPDATED)


def _keep_known(row: ActivityRow, activity: Activity) -> Activity:
    """What other copies told (another source's record, an export's name) survives a plain re-read."""
    old_raw = row.raw_json or {}
    kept = {k: old_raw[k] for k in KEPT_RAW_KEYS if k in old_raw and k not in activity.raw}
    name = activity.name if activity.name is not None else row.name
    if not kept and name == activity.name:
        return activity
    return replace(activity, name=name, raw={**activity.raw, **kept})


def _detail(activity: Activity) -> tuple[float, bool, int, float]:
    """How much a copy of an activity tells, for choosing between two copies of the same rank."""
    derived = activity.derived
    return (
        derived.hr_valid_s if derived is not None else 0.0,
        activity.has_gps,
        len(activity.laps),
        derived.sample_s if derived is not None else 0.0,
    )


def _add_identity(
    session: Session,
    athlete_id: int,
    activity_id: int,
    activity: Activity,
    fingerprint: str | None,
    now: datetime,
) -> None:
    session.add(
        ActivitySource(
            athlete_id=athlete_id,
            activity_id=activity_id,
            source=activity.source,
            external_id=activity.external_id,
            source_ref=activity.source_ref,
            fingerprint=fingerprint,
            created_at=now,
        )
    )


def find_identity(session: Session, athlete_id: int, source: str, external_id: str) -> ActivitySource | None:
    """What ``source`` said of the activity it knows as ``external_id``, if anything."""
    return session.scalar(
        select(ActivitySource).where(
            ActivitySource.athlete_id == athlete_id,
            ActivitySource.source == source,
            ActivitySource.external_id == external_id,
        )
    )


def delete_by_identity(session: Session, athlete_id: int, source: str, external_id: str) -> bool:
    """Remove what one source said; the activity goes when no source is left."""
    identity = find_identity(session, athlete_id, source, external_id)
    if identity is None:
        return False
    activity = identity.activity
    session.delete(identity)
    session.flush()
    if not session.scalars(select(ActivitySource).where(ActivitySource.activity_id == activity.id)).first():
        session.delete(activity)
    return True


def row_to_activity(row: ActivityRow) -> Activity:
    return Activity(
        source=row.source,
        source_ref=row.source_ref,
        external_id=row.external_id,
        sport=row.sport,
        start_utc=row.start_utc,
        utc_offset_s=row.utc_offset_s,
        elapsed_s=row.elapsed_s,
        moving_s=row.moving_s,
        distance_m=row.distance_m,
        name=row.name,
        avg_hr=row.avg_hr,
        max_hr=row.max_hr,
        avg_speed_mps=row.avg_speed_mps,
        workout_type=row.workout_type,
        training_effect=row.training_effect,
        anaerobic_training_effect=row.anaerobic_training_effect,
        trainer=row.trainer,
        has_gps=row.has_gps,
        laps=codec.laps_from_json(row.laps_json),
        derived=codec.derived_from_json(row.derived_json),
        raw=row.raw_json,
    )


def row_classification(row: ActivityRow) -> Classification | None:
    if row.label is None:
        return None
    return Classification(
        label=Label(row.label),
        confidence=row.confidence or 0.0,
        reasons=codec.reasons_from_json(row.reasons_json),
        overridden=row.label_override is not None,
    )


def activity_rows(
    session: Session,
    athlete_id: int,
    since: datetime | None = None,
    *,
    limit: int | None = None,
) -> Sequence[ActivityRow]:
    """The athlete's activities from ``since`` on, oldest first; with ``limit``, only the newest
    ``limit`` of them. Filtered and limited in SQL, on the (athlete, start) index; tombstoned
    activities left out (they feed no plan, feed or label)."""
    query = select(ActivityRow).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.tombstoned_at.is_(None)
    )
    if since is not None:
        query = query.where(ActivityRow.start_utc >= since)
    if limit is None:
        return session.scalars(query.order_by(ActivityRow.start_utc, ActivityRow.id)).all()
    newest = session.scalars(query.order_by(ActivityRow.start_utc.desc(), ActivityRow.id.desc()).limit(limit))
    return list(reversed(newest.all()))


def stream_activity_rows(
    session: Session, athlete_id: int, since: datetime | None = None, *, chunk: int = 100
) -> Iterator[ActivityRow]:
    """``activity_rows`` read ``chunk`` rows at a time: a row the caller lets go is freed, so
    walking any number of activities takes the memory of one chunk."""
    query = select(ActivityRow).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.tombstoned_at.is_(None)
    )
    if since is not None:
        query = query.where(ActivityRow.start_utc >= since)
    query = query.order_by(ActivityRow.start_utc, ActivityRow.id).execution_options(yield_per=chunk)
    yield from session.scalars(query)


def rows_by_id(session: Session, ids: Sequence[int]) -> Sequence[ActivityRow]:
    """The activities with these ids, oldest first."""
    query = select(ActivityRow).where(ActivityRow.id.in_(ids))
    return session.scalars(query.order_by(ActivityRow.start_utc, ActivityRow.id)).all()


def labelled_activities(
    session: Session, athlete_id: int, since: datetime | None = None, *, limit: int | None = None
) -> list[LabelledActivity]:
    out = []
    for row in activity_rows(session, athlete_id, since, limit=limit):
        classification = row_classification(row)
        if classification is not None:
            out.append(LabelledActivity(row.id, row_to_activity(row), classification))
    return out


def save_classification(row: ActivityRow, classification: Classification) -> bool:
    """Write a label; True when it changed."""
    reasons = codec.reasons_to_json(classification.reasons)
    changed = (
        row.label != classification.label.value
        or row.confidence != classification.confidence
        or row.reasons_json != reasons
    )
    if changed:
        row.label = classification.label.value
        row.confidence = classification.confidence
        row.reasons_json = reasons
    return changed


def set_override(
    session: Session, athlete_id: int, activity_id: int, label: Label | None
) -> ActivityRow | None:
    row = session.get(ActivityRow, activity_id)
    if row is None or row.athlete_id != athlete_id:
        return None
    row.label_override = label.value if label is not None else None
    row.label = None  # relabelled by the next relabel, however old the activity
    return row


def load_sessions(session: Session, athlete_id: int, since: datetime | None = None) -> list[StrengthSession]:
    """The planned sessions (not removed), from ``since`` on when given (in SQL, on the index)."""
    query = select(SessionRow).where(SessionRow.athlete_id == athlete_id, SessionRow.removed.is_(False))
    if since is not None:
        query = query.where(SessionRow.start_utc >= since)
    rows = session.scalars(query.order_by(SessionRow.start_utc, SessionRow.uid)).all()
    return [_row_to_session(row) for row in rows]


def newest_start(session: Session, athlete_id: int) -> datetime | None:
    """When the athlete's newest stored activity started."""
    value = session.scalar(
        select(func.max(ActivityRow.start_utc)).where(ActivityRow.athlete_id == athlete_id)
    )
    return _aware(value)


def oldest_unlabelled(session: Session, athlete_id: int) -> datetime | None:
    """When the oldest activity without a label started (a partial index finds it)."""
    value = session.scalar(
        select(func.min(ActivityRow.start_utc)).where(
            ActivityRow.athlete_id == athlete_id, ActivityRow.label.is_(None)
        )
    )
    return _aware(value)


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates come back without the column type's conversion on SQLite: naive UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _row_to_session(row: SessionRow) -> StrengthSession:
    return StrengthSession(
        uid=row.uid,
        start=row.start_utc.astimezone(ZoneInfo(row.time_zone)),
        duration_min=row.duration_min,
        focus=tuple(row.focus_json),
        exercises=codec.exercises_from_json(row.exercises_json),
        why=row.why,
        kind=row.kind,
        status=SessionStatus(row.status),
        sequence=row.sequence,
        changed_at=row.changed_at,
    )


def save_sessions(
    session: Session,
    athlete_id: int,
    sessions: Sequence[StrengthSession],
    time_zone: str,
    now: datetime,
    since: datetime | None = None,
) -> dict[str, int]:
    """Make the stored plan equal to ``sessions``; sessions no longer planned are marked removed.
    With ``since``, only the stored sessions from then on are compared (the planner was given
    those): older ones stay as they are."""
    query = select(SessionRow).where(SessionRow.athlete_id == athlete_id)
    if since is not None:
        query = query.where(SessionRow.start_utc >= since)
    existing = {row.uid: row for row in session.scalars(query)}
    counts = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0}
    for item in sessions:
        row = existing.pop(item.uid, None)
        if row is None and since is not None:
            row = session.get(SessionRow, item.uid)  # kept before the window; moved into it
        values: dict[str, Any] = {
            "start_utc": item.start,
            "time_zone": time_zone,
            "duration_min": item.duration_min,
            "kind": item.kind,
            "focus_json": list(item.focus),
            "exercises_json": codec.exercises_to_json(item.exercises),
            "why": item.why,
            "status": item.status.value,
            "sequence": item.sequence,
            "changed_at": item.changed_at or now,
            "removed": False,
        }
        if row is None:
            session.add(SessionRow(uid=item.uid, athlete_id=athlete_id, **values))
            counts["added"] += 1
            continue
        if row.removed or row.sequence != item.sequence:
            if row.removed:
                values["sequence"] = max(item.sequence, row.sequence + 1)
                values["changed_at"] = now
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
        for key, value in values.items():
            setattr(row, key, value)
    for row in existing.values():
        if not row.removed:
            row.removed = True
            row.sequence += 1
            row.changed_at = now
            counts["removed"] += 1
    return counts


def get_state(session: Session, athlete_id: int, key: str) -> dict[str, Any] | None:
    row = session.get(StateRow, (athlete_id, key))
    return dict(row.value_json) if row is not None else None


def update_state_locked(
    session: Session,
    athlete_id: int,
    key: str,
    change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    now: datetime,
) -> dict[str, Any] | None:
    """Read the row with SELECT ... FOR UPDATE (PostgreSQL: other workers wait), store what
    ``change`` makes of it unless None; returns the value now stored."""
    row = session.scalar(
        select(StateRow)
        .where(StateRow.athlete_id == athlete_id, StateRow.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    current = dict(row.value_json) if row is not None else None
    updated = change(current)
    if updated is None:
        return current
    set_state(session, athlete_id, key, updated, now)
    return updated


def set_state(session: Session, athlete_id: int, key: str, value: dict[str, Any], now: datetime) -> None:
    row = session.get(StateRow, (athlete_id, key))
    if row is None:
        session.add(StateRow(athlete_id=athlete_id, key=key, value_json=value, updated_at=now))
    else:
        row.value_json = value
        row.updated_at = now


def add_rejection(
    session: Session,
    athlete_id: int,
    source: str,
    source_ref: str,
    reason: str,
    set_aside_to: str | None,
    now: datetime,
) -> None:
    session.add(
        RejectionRow(
            athlete_id=athlete_id,
            source=source,
            source_ref=source_ref,
            reason=reason,
            set_aside_to=set_aside_to,
            created_at=now,
        )
    )


def start_sync_run(session: Session, athlete_id: int, source: str, now: datetime) -> SyncRunRow:
    run = SyncRunRow(
        athlete_id=athlete_id, source=source, started_at=now, outcome=SyncOutcome.RUNNING, summary_json={}
    )
    session.add(run)
    session.flush()
    return run


def delete_athlete_source_data(session: Session, athlete_id: int, source: str) -> int:
    """Forget everything one source brought (Strava deauthorization)."""
    ids = session.scalars(
        select(ActivitySource.external_id).where(
            ActivitySource.athlete_id == athlete_id, ActivitySource.source == source
        )
    ).all()
    for external_id in ids:
        delete_by_identity(session, athlete_id, source, external_id)
    session.execute(
        delete(StateRow).where(StateRow.athlete_id == athlete_id, StateRow.key.like(f"{source}.%"))
    )
    return len(ids)
