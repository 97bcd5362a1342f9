"""A decoded FIT file (FitContent) to Activities: one per session, with laps and derived metrics.

Pure mapping: bytes are decoded elsewhere (fitfast, fitreader); files are found and moved elsewhere
(intake, files). Device-relative timestamps (old watches count from power-on) are anchored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from runstrong_sync.core.derive import derive_metrics
from runstrong_sync.core.domain import Activity, Lap
from runstrong_sync.errors import FitReadError

from .fitdata import FitContent, number

RELATIVE_TIME_LIMIT = 0x10000000  # FIT date_time values below this count from device power-on

SPORTS = {
    ("running", "treadmill"): "treadmill_run",
    ("running", "trail"): "trail_run",
    ("running", "virtual_activity"): "virtual_run",
    ("running", "indoor_running"): "treadmill_run",
    ("running", None): "run",
    ("cycling", None): "ride",
    ("swimming", None): "swim",
    ("walking", None): "walk",
    ("hiking", None): "hike",
    ("rowing", None): "rowing",
    ("training", "strength_training"): "strength",
    ("training", None): "workout",
    ("fitness_equipment", "indoor_rowing"): "rowing",
    ("fitness_equipment", "elliptical"): "elliptical",
    ("fitness_equipment", "treadmill"): "treadmill_run",
    ("fitness_equipment", None): "workout",
    ("cross_country_skiing", None): "ski",
    ("hiit", None): "workout",
}


# Sport numbers of FIT profiles newer than the one the decoders carry (FIT SDK 21.x): the
# decoders hand these over as bare numbers.
LATER_FIT_SPORTS = {
    53: "diving",
    62: "hiit",
    64: "racket",
    65: "wheelchair_push_walk",
    66: "wheelchair_push_run",
    67: "meditation",
    69: "disc_golf",
    71: "cricket",
    72: "rugby",
    73: "hockey",
    74: "lacrosse",
    75: "volleyball",
    76: "water_tubing",
    77: "wakesurfing",
    80: "mixed_martial_arts",
    82: "snorkeling",
    83: "dance",
    84: "jump_rope",
}


def normalise_sport(sport: Any, sub_sport: Any) -> str:
    if isinstance(sport, int) or (isinstance(sport, str) and sport.isdigit()):
        sport = LATER_FIT_SPORTS.get(int(sport), "other")  # a number no profile names
    sport_s = str(sport) if sport is not None else "generic"
    sub_s = str(sub_sport) if sub_sport is not None else None
    return SPORTS.get((sport_s, sub_s)) or SPORTS.get((sport_s, None)) or sport_s


def judge_sport(
    times: Sequence[datetime],
    distance: Sequence[float | None],
    cadence: Sequence[float | None],
    text: str | None,
) -> tuple[str, str]:
    """A GPX without a known type: judged from its speed and cadence, and the reason says so.

    Running cadence is 140-200 steps a minute (Garmin writes 70-100 per foot), cycling 50-110
    revolutions; runners move at 1.8-6.5 m/s, walkers below, riders mostly above.
    """
    known = [d for d in distance if d is not None]
    seconds = (times[-1] - times[0]).total_seconds() if len(times) >= 2 else 0.0
    speed = (known[-1] - known[0]) / seconds if len(known) >= 2 and seconds > 0 else 0.0
    steps = sorted(c for c in cadence if c)
    median_cadence = steps[len(steps) // 2] if steps else None
    if median_cadence is not None and median_cadence < 130:
        median_cadence *= 2 if median_cadence >= 65 else 1  # per foot, or a pedal cadence
    what = f"sport {text!r} unknown" if text else "no sport given"
    cadence_text = f", cadence {median_cadence:.0f}/min" if median_cadence is not None else ""
    why = f"{what}: judged from its speed ({speed:.1f} m/s){cadence_text}"
    if median_cadence is not None and median_cadence >= 140 and 1.5 <= speed <= 7.0:
        return "run", f"run ({why})"
    if median_cadence is None and 1.8 <= speed <= 6.5:
        return "run", f"run ({why})"
    if speed > 7.0 or (median_cadence is not None and median_cadence < 130 and speed >= 4.0):
        return "ride", f"ride ({why})"
    if 0.5 <= speed < 1.8:
        return "walk", f"walk ({why})"
    return "generic", f"other ({why})"


def _to_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if value.year < 1995:  # device-relative timestamp decoded from the FIT epoch
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _utc_times(values: Sequence[Any]) -> list[datetime | None]:
    """``_to_utc`` of each record's timestamp, with the naive datetimes of FIT files taken inline."""
    out: list[datetime | None] = []
    add = out.append
    for value in values:
        if value.__class__ is datetime and value.tzinfo is None:
            add(value.replace(tzinfo=UTC) if value.year >= 1995 else None)
        else:
            add(_to_utc(value))
    return out


def _file_offset_s(content: FitContent) -> int | None:
    """The UTC offset the device wrote (activity local_timestamp against timestamp), if any."""
    stamp = _to_utc(content.activity.get("timestamp"))
    local = content.activity.get("local_timestamp")
    if stamp is not None and isinstance(local, datetime):
        seconds = (local.replace(tzinfo=UTC) - stamp).total_seconds()
        quarter_hours = round(seconds / 900)
        if abs(quarter_hours) <= 14 * 4:
            return quarter_hours * 900
    return None


def _offset_s(content: FitContent, start: datetime, zone: ZoneInfo) -> int:
    """The activity's own UTC offset: from the activity message, else the athlete's zone."""
    own = _file_offset_s(content)
    if own is not None:
        return own
    offset = start.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def activities_from_fit(
    content: FitContent, source_ref: str, fingerprint: str, zone: ZoneInfo
) -> list[Activity]:
    """One Activity per FIT session (a triathlon gives a swim, a ride and a run); transitions dropped."""
    file_type = content.file_type
    if file_type is not None and file_type != "activity":
        raise FitReadError(f"this FIT file holds {file_type} data, not an activity")
    content = anchor_relative_times(content, zone)
    records = content.records
    times = _utc_times(records.timestamp)
    sessions = content.sessions or [_session_from_records(times, records.distance)]
    if not any(t is not None for t in times) and not content.sessions:
        raise FitReadError("the activity has no records and no session summary")
    file_key = _file_key(content, fingerprint)
    activities: list[Activity] = []
    for index, session in enumerate(sessions):
        sport = normalise_sport(session.get("sport"), session.get("sub_sport"))
        guess: str | None = None
        if not content.sessions and sport == "generic":  # cut off before its summary
            sport, guess = judge_sport([t for t in times if t is not None], records.distance, (), None)
        start = _to_utc(session.get("start_time")) or next((t for t in times if t is not None), None)
        if sport == "transition" or start is None:
            continue
        identity = (source_ref, f"{file_key}:{index}", fingerprint)
        activity = _session_activity(content, session, sport, start, times, zone, identity, guess=guess)
        activities.append(activity)
    if not activities:
        raise FitReadError("the file has no activity session with a start time")
    return activities


def _session_activity(
    content: FitContent,
    session: dict[str, Any],
    sport: str,
    start: datetime,
    times: list[datetime | None],
    zone: ZoneInfo,
    identity: tuple[str, str, str],
    *,
    guess: str | None = None,
) -> Activity:
    """One session as an Activity; ``identity`` is (source_ref, external_id, the file's sha256)."""
    source_ref, external_id, fingerprint = identity
    records = content.records
    elapsed = float(session.get("total_elapsed_time") or 0.0)
    end = start + timedelta(seconds=elapsed) if elapsed else None
    chosen = [i for i, t in enumerate(times) if t is not None and t >= start and (end is None or t <= end)]
    derived = (
        derive_metrics(
            [times[i].timestamp() for i in chosen],  # type: ignore[union-attr]
            [records.heart_rate[i] for i in chosen],
            [records.speed[i] for i in chosen],
            [records.distance[i] for i in chosen],
            [records.altitude[i] for i in chosen] if records.altitude else (),
        )
        if chosen
        else None
    )
    if not elapsed and chosen:
        last = times[chosen[-1]]
        elapsed = (last - start).total_seconds() if last is not None else 0.0
    timer = session.get("total_timer_time")
    moving = derived.moving_s if derived is not None and derived.moving_s > 0 else float(timer or elapsed)
    speed = session.get("enhanced_avg_speed", session.get("avg_speed"))
    distance = session.get("total_distance")
    if distance is None and chosen:
        distance = max((d for i in chosen if (d := records.distance[i]) is not None), default=None)
    laps = tuple(_lap(lap, start) for lap in content.laps if _in_session(lap, start, end))
    return Activity(
        source="fit",
        source_ref=source_ref,
        external_id=external_id,
        sport=sport,
        start_utc=start,
        utc_offset_s=_offset_s(content, start, zone),
        elapsed_s=elapsed,
        moving_s=moving,
        distance_m=float(distance) if distance is not None else None,
        name=None,
        avg_hr=number(session.get("avg_heart_rate")),
        max_hr=number(session.get("max_heart_rate")),
        avg_speed_mps=number(speed),
        training_effect=number(session.get("total_training_effect")),
        anaerobic_training_effect=number(session.get("total_anaerobic_training_effect")),
        trainer=sport == "treadmill_run" or not records.has_position,
        has_gps=records.has_position,
        laps=laps,
        derived=derived,
        raw={
            "file_id": _jsonable(content.file_id),
            "session": _jsonable(session),
            "decoder": content.decoder,
            "fingerprint": fingerprint,
            "offset_from": "file" if _file_offset_s(content) is not None else "zone",
            **({"incomplete": content.incomplete} if content.incomplete else {}),
            **({"sport_guess": guess} if guess else {}),
        },
    )


def _is_relative(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < RELATIVE_TIME_LIMIT


def _relative_origin(content: FitContent, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of device second 0, for files whose timestamps count from power-on.

    The activity message pairs a relative ``timestamp`` with an absolute ``local_timestamp``
    (local time, so the athlete's zone turns it into UTC); failing that, an absolute
    ``file_id.time_created`` is taken as the moment of the earliest relative timestamp.
    """
    stamp, local = content.activity.get("timestamp"), content.activity.get("local_timestamp")
    if _is_relative(stamp) and isinstance(local, datetime) and local.year >= 1995:
        local_utc: datetime = local.replace(tzinfo=zone).astimezone(UTC)  # the zone's offset that day
        return local_utc - timedelta(seconds=stamp)
    created = content.file_id.get("time_created")
    if isinstance(created, datetime) and created.year >= 1995:
        relative: list[int] = [
            v
            for v in (
                *content.records.timestamp,
                *(s.get("start_time") for s in content.sessions),
                *(lap.get("start_time") for lap in content.laps),
            )
            if _is_relative(v)
        ]
        if relative:
            created_utc = created.replace(tzinfo=UTC) if created.tzinfo is None else created
            return created_utc - timedelta(seconds=min(relative))
    return None


def anchor_relative_times(content: FitContent, zone: ZoneInfo) -> FitContent:
    """Replace device-relative timestamps (old Garmin FR70 and similar) by naive UTC datetimes.

    Returns ``content`` unchanged when nothing is relative or no anchor exists; otherwise a copy.
    """
    values = [
        *content.records.timestamp,
        content.activity.get("timestamp"),
        content.file_id.get("time_created"),
        *(m.get(k) for m in (*content.sessions, *content.laps) for k in ("start_time", "timestamp")),
    ]
    if not any(v.__class__ is not datetime and _is_relative(v) for v in values):  # dates: not relative
        return content
    origin = _relative_origin(content, zone)
    if origin is None:
        return content
    base = origin.replace(tzinfo=None)

    def fix(value: Any) -> Any:
        return base + timedelta(seconds=value) if _is_relative(value) else value

    def fix_message(message: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: fix(v) if k in keys else v for k, v in message.items()}

    records = replace(content.records, timestamp=[fix(t) for t in content.records.timestamp])
    return replace(
        content,
        file_id=fix_message(content.file_id, ("time_created",)),
        sessions=[fix_message(s, ("start_time", "timestamp")) for s in content.sessions],
        laps=[fix_message(lap, ("start_time", "timestamp")) for lap in content.laps],
        activity=fix_message(content.activity, ("timestamp",)),
        records=records,
    )


def _session_from_records(times: list[datetime | None], distance: list[float | None]) -> dict[str, Any]:
    present = [t for t in times if t is not None]
    if not present:
        return {}
    return {
        "sport": "generic",
        "start_time": present[0].replace(tzinfo=None),
        "total_elapsed_time": (present[-1] - present[0]).total_seconds(),
        "total_distance": max((d for d in distance if d is not None), default=None),
    }


def _file_key(content: FitContent, fingerprint: str) -> str:
    serial = content.file_id.get("serial_number")
    created = _to_utc(content.file_id.get("time_created"))
    if serial is not None and created is not None:
        return f"{content.file_id.get('manufacturer', 'unknown')}-{serial}-{int(created.timestamp())}"
    return f"sha256-{fingerprint[:32]}"


def _in_session(lap: dict[str, Any], start: datetime, end: datetime | None) -> bool:
    lap_start = _to_utc(lap.get("start_time"))
    if lap_start is None:
        return end is None
    return lap_start >= start - timedelta(seconds=2) and (end is None or lap_start < end)


def _lap(lap: dict[str, Any], start: datetime) -> Lap:
    lap_start = _to_utc(lap.get("start_time")) or start
    return Lap(
        start_offset_s=(lap_start - start).total_seconds(),
        elapsed_s=float(lap.get("total_elapsed_time") or 0.0),
        timer_s=number(lap.get("total_timer_time")),
        distance_m=number(lap.get("total_distance")),
        avg_hr=number(lap.get("avg_heart_rate")),
        max_hr=number(lap.get("max_heart_rate")),
        avg_speed_mps=number(lap.get("enhanced_avg_speed", lap.get("avg_speed"))),
        intensity=str(lap["intensity"]) if lap.get("intensity") is not None else None,
        trigger=str(lap["lap_trigger"]) if lap.get("lap_trigger") is not None else None,
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out
