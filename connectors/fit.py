"""FIT files from a folder (the configured inbox, or paths given to `import`)."""

from __future__ import annotations

import gzip
import io
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeGuard
from zoneinfo import ZoneInfo

from connectors.fitdata import FitContent
from connectors.fitreader import FitReadError
from runstrong_sync.config import Config
from runstrong_sync.derive import derive_metrics
from runstrong_sync.domain import Activity, Lap
from runstrong_sync.sources import ConnectorContext, Rejected, SourceEvent

FIT_SUFFIXES = (".fit", ".fit.gz")
MAX_FILE_BYTES = 64 * 1024 * 1024  # larger than any real activity file
REASON_SUFFIX = ".reason.txt"
# FIT epoch: timestamps below this are seconds since device power-on, not dates.
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
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


def normalise_sport(sport: Any, sub_sport: Any) -> str:
    sport_s = str(sport) if sport is not None else "generic"
    sub_s = str(sub_sport) if sub_sport is not None else None
    return SPORTS.get((sport_s, sub_s)) or SPORTS.get((sport_s, None)) or sport_s


def is_fit_name(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in FIT_SUFFIXES)


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it ends in .gz; refuses absurd sizes."""
    size = path.stat().st_size
    if size == 0:
        raise FitReadError("the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise FitReadError(f"the file is {size // 1_048_576} MiB, larger than any activity file")
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise FitReadError(f"the gzip data is damaged ({exc})") from exc
        if len(data) > MAX_FILE_BYTES:
            raise FitReadError("the gzip file unpacks to more than any activity file")
    return data


def _to_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if value.year < 1995:  # device-relative timestamp decoded from the FIT epoch
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _offset_s(content: FitContent, start: datetime, zone: ZoneInfo) -> int:
    """The activity's own UTC offset: from the activity message, else the athlete's zone."""
    stamp = _to_utc(content.activity.get("timestamp"))
    local = content.activity.get("local_timestamp")
    if stamp is not None and isinstance(local, datetime):
        seconds = (local.replace(tzinfo=UTC) - stamp).total_seconds()
        quarter_hours = round(seconds / 900)
        if abs(quarter_hours) <= 14 * 4:
            return quarter_hours * 900
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
    times = [_to_utc(t) for t in records.timestamp]
    sessions = content.sessions or [_session_from_records(times, records.distance)]
    if not any(t is not None for t in times) and not content.sessions:
        raise FitReadError("the activity has no records and no session summary")
    file_key = _file_key(content, fingerprint)
    activities: list[Activity] = []
    for index, session in enumerate(sessions):
        sport = normalise_sport(session.get("sport"), session.get("sub_sport"))
        if sport == "transition":
            continue
        start = _to_utc(session.get("start_time")) or next((t for t in times if t is not None), None)
        if start is None:
            continue
        elapsed = float(session.get("total_elapsed_time") or 0.0)
        end = start + timedelta(seconds=elapsed) if elapsed else None
        chosen = [
            i for i, t in enumerate(times) if t is not None and t >= start and (end is None or t <= end)
        ]
        derived = (
            derive_metrics(
                [times[i].timestamp() for i in chosen],  # type: ignore[union-attr]
                [records.heart_rate[i] for i in chosen],
                [records.speed[i] for i in chosen],
                [records.distance[i] for i in chosen],
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
        activities.append(
            Activity(
                source="fit",
                source_ref=source_ref,
                external_id=f"{file_key}:{index}",
                sport=sport,
                start_utc=start,
                utc_offset_s=_offset_s(content, start, zone),
                elapsed_s=elapsed,
                moving_s=moving,
                distance_m=float(distance) if distance is not None else None,
                name=None,
                avg_hr=_float(session.get("avg_heart_rate")),
                max_hr=_float(session.get("max_heart_rate")),
                avg_speed_mps=_float(speed),
                training_effect=_float(session.get("total_training_effect")),
                anaerobic_training_effect=_float(session.get("total_anaerobic_training_effect")),
                trainer=sport == "treadmill_run" or not records.has_position,
                has_gps=records.has_position,
                laps=laps,
                derived=derived,
                raw={
                    "file_id": _jsonable(content.file_id),
                    "session": _jsonable(session),
                    "decoder": content.decoder,
                    "fingerprint": fingerprint,
                },
            )
        )
    if not activities:
        raise FitReadError("the file has no activity session with a start time")
    return activities


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
    if not any(_is_relative(v) for v in values):
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
        timer_s=_float(lap.get("total_timer_time")),
        distance_m=_float(lap.get("total_distance")),
        avg_hr=_float(lap.get("avg_heart_rate")),
        max_hr=_float(lap.get("max_heart_rate")),
        avg_speed_mps=_float(lap.get("enhanced_avg_speed", lap.get("avg_speed"))),
        intensity=str(lap["intensity"]) if lap.get("intensity") is not None else None,
        trigger=str(lap["lap_trigger"]) if lap.get("lap_trigger") is not None else None,
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


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


def set_aside(path: Path, reason: str, rejected_dir: Path) -> Path:
    """Move ``path`` into ``rejected_dir`` with a .reason.txt beside it; never overwrite, never delete."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(rejected_dir / path.name)
    shutil.move(str(path), target)
    reason_file = target.with_name(target.name + REASON_SUFFIX)
    shown = os.fsencode(str(path)).decode("utf-8", errors="replace")
    reason_file.write_text(f"{shown}\n{reason}\n", encoding="utf-8", errors="replace")
    return target


def move_to(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder / path.name)
    shutil.move(str(path), target)
    return target


def _free_name(target: Path) -> Path:
    if not target.exists():
        return target
    stem, suffix = target.name.split(".", 1) if "." in target.name else (target.name, "")
    for n in range(1, 10_000):
        candidate = target.with_name(f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(target)


class FitFolderConnector:
    """Activity files from a folder: FIT, GPX and TCX (plain or gzipped) and zip exports."""

    name: ClassVar[str] = "fit"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.sources.fit
        self.zone = config.athlete.zone

    def fetch(self, context: ConnectorContext) -> Iterator[SourceEvent]:
        """Every complete file in the inbox; files still being written wait for the next run."""
        from connectors import intake

        inbox = self.settings.inbox
        if inbox is None:
            return
        inbox = inbox.expanduser()
        if not inbox.is_dir():
            yield Rejected(str(inbox), "the inbox folder does not exist; create it or fix sources.fit.inbox")
            return
        archive = (self.settings.archive_dir or inbox / "archive").expanduser()
        rejected = (self.settings.rejected_dir or inbox / "rejected").expanduser()
        busy = frozenset(Path(p) for p in context.options.get("busy", ()))
        files = [
            p
            for p in intake.inbox_files(inbox, skip=(archive, rejected))
            if intake.settled(p, self.settings.settle_seconds, busy)
        ]
        targets = intake.Targets(
            archive if self.settings.after_import == "archive" else None, rejected, confine_to=inbox
        )
        known = None
        if self.settings.after_import == "leave":  # files stay: recognise them without decoding
            from connectors.known import KnownFiles

            known = KnownFiles(context)
            files = known.unknown(files)
        events = intake.events(
            [(p, targets) for p in files],
            context,
            self.zone,
            jobs=int(context.options.get("jobs") or intake.default_jobs()),
        )
        yield from (events if known is None else known.remember(events))

    def import_paths(self, paths: Sequence[Path], context: ConnectorContext) -> Iterator[SourceEvent]:
        """The given files, folders (searched below) and archives; nothing is archived after."""
        from connectors import intake

        files: list[tuple[Path, intake.Targets]] = []
        missing: list[Rejected] = []
        for path in paths:
            if path.is_dir():
                targets = intake.Targets(None, path / "rejected", confine_to=path)
                files += [(p, targets) for p in intake.folder_files(path)]
            elif path.exists() or path.is_symlink():
                files.append((path, intake.Targets(None, path.parent / "rejected")))
            else:
                missing.append(Rejected(intake.display(path), "no such file or folder"))
        yield from missing
        yield from intake.events(
            files, context, self.zone, jobs=int(context.options.get("jobs") or intake.default_jobs())
        )
