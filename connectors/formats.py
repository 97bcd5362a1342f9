"""One activity file's bytes to Activities, whatever its format: FIT, GPX or TCX, plain or gzipped.

Runs in worker processes during bulk imports, so it takes bytes and returns plain data; every
failure is a FitReadError whose message says, for a person, why the file cannot be imported.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import re
import xml.etree.ElementTree as StdET  # only for the Element type; parsing goes through defusedxml
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from runstrong_sync.core.domain import Activity, Lap
from runstrong_sync.core.text import clean_optional
from runstrong_sync.errors import FitReadError

if TYPE_CHECKING:  # gpxpy is imported when a GPX file is read: FIT imports do without it
    import gpxpy.gpx

# The decoders (fitfast, fitmap, derive) are imported when a file is read, so the process that
# only checks and hands out files (connectors/intake.py) starts without them.

MAX_FILE_BYTES = 64 * 1024 * 1024  # larger than any real activity file, plain or unpacked
FORMATS = ("fit", "gpx", "tcx")
ARCHIVE_SUFFIX = ".zip"
GPX_ROOT = re.compile(rb"<(?:\w+:)?gpx[\s>]")
TCX_NS = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2}"

# Sport words used by GPX <type> and TCX Sport: Garmin Connect (running, street_running,
# track_running, trail_running, treadmill_running, indoor_running, ultra_run, road_biking...),
# Movescount and Sports Tracker ("Running", "Trail running", "Jogging", "Cycling"...), Strava
# (words, or its old numbers 1 ride, 4 hike, 9 run, 10 walk). Keys are lower case with "_" for
# spaces and dashes; a word found nowhere is judged from the track (speed and cadence).
TEXT_SPORTS = {
    "running": "run",
    "run": "run",
    "9": "run",
    "jogging": "run",
    "street_running": "run",
    "road_running": "run",
    "track_running": "run",
    "ultra_run": "run",
    "ultra_running": "run",
    "ultrarun": "run",
    "obstacle_run": "run",
    "orienteering": "run",
    "trail_running": "trail_run",
    "trailrun": "trail_run",
    "trail_run": "trail_run",
    "mountain_running": "trail_run",
    "fell_running": "trail_run",
    "treadmill_running": "treadmill_run",
    "treadmill": "treadmill_run",
    "indoor_running": "treadmill_run",
    "indoor_run": "treadmill_run",
    "virtualrun": "virtual_run",
    "virtual_run": "virtual_run",
    "cycling": "ride",
    "biking": "ride",
    "bike": "ride",
    "ride": "ride",
    "1": "ride",
    "road_biking": "ride",
    "road_cycling": "ride",
    "mountain_biking": "ride",
    "mountainbiking": "ride",
    "gravel_cycling": "ride",
    "cyclocross": "ride",
    "indoor_cycling": "ride",
    "virtual_ride": "ride",
    "virtualride": "ride",
    "ebiking": "ride",
    "e_bike_ride": "ride",
    "walking": "walk",
    "walk": "walk",
    "10": "walk",
    "casual_walking": "walk",
    "speed_walking": "walk",
    "nordic_walking": "walk",
    "hiking": "hike",
    "hike": "hike",
    "4": "hike",
    "trekking": "hike",
    "mountaineering": "hike",
    "swimming": "swim",
    "swim": "swim",
    "open_water_swimming": "swim",
    "lap_swimming": "swim",
    "pool_swimming": "swim",
    "weighttraining": "strength",
    "weight_training": "strength",
    "strength_training": "strength",
    "gym": "strength",
    "workout": "workout",
    "rowing": "rowing",
    "indoor_rowing": "rowing",
    "elliptical": "elliptical",
    "cross_country_skiing": "ski",
    "skiing": "ski",
}


@dataclass(frozen=True, slots=True)
class ExportHints:
    """What an export's index (Strava's activities.csv) says about one file."""

    name: str | None = None
    sport: str | None = None  # the export's own word, e.g. "Run", "Ride"
    export_id: str | None = None
    origin: str = "strava_export"


@dataclass(slots=True)
class FileActivities:
    activities: list[Activity]
    fingerprint: str
    records: int
    decoder: str
    extra: dict[str, Any] = field(default_factory=dict)


def format_of(name: str) -> str | None:
    """fit, gpx, tcx or zip from a file name (any case, optionally .gz); None for anything else."""
    lower = name.lower()
    if lower.endswith(ARCHIVE_SUFFIX):
        return "zip"
    if lower.endswith(".gz"):
        lower = lower[:-3]
    for kind in FORMATS:
        if lower.endswith("." + kind):
            return kind
    return None


def sport_from_text(text: str | None) -> str | None:
    if not text:
        return None
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return TEXT_SPORTS.get(key) or TEXT_SPORTS.get(key.replace("_", ""))


def unpack(data: bytes, name: str) -> bytes:
    """The file's own bytes: gunzipped when the name ends in .gz, never more than MAX_FILE_BYTES."""
    if not data:
        raise FitReadError("the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise FitReadError(f"the file is {len(data) // 1_048_576} MiB, larger than any activity file")
    if not name.lower().endswith(".gz"):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            plain = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FitReadError(f"the gzip data is damaged ({exc})") from exc
    if len(plain) > MAX_FILE_BYTES:
        raise FitReadError("the gzip file unpacks to more than any activity file (64 MiB); not read")
    if not plain:
        raise FitReadError("the gzip file unpacks to nothing (0 bytes)")
    return plain


def read_activity_file(
    data: bytes, name: str, source_ref: str, zone: ZoneInfo, hints: ExportHints | None = None
) -> FileActivities:
    """Parse one file (by the format its name gives) into the Activities it holds."""
    kind = format_of(name)
    if kind not in FORMATS:
        raise FitReadError("not an activity file (expected .fit, .gpx or .tcx, optionally .gz)")
    plain = unpack(data, name)
    fingerprint = hashlib.sha256(plain).hexdigest()
    if kind == "fit":
        from .fitfast import read_fit
        from .fitmap import activities_from_fit

        content = read_fit(plain)
        activities = activities_from_fit(content, source_ref, fingerprint, zone)
        result = FileActivities(activities, fingerprint, len(content.records), content.decoder)
    elif kind == "gpx":
        result = _read_gpx(plain, source_ref, fingerprint, zone)
    else:
        result = _read_tcx(plain, source_ref, fingerprint, zone)
    result.activities = plausible(result.activities)
    if hints is not None:
        result.activities = [_with_hints(a, hints) for a in result.activities]
    # Names and notes are outside text: cleaned here, where they enter.
    result.activities = [replace(a, name=clean_optional(a.name)) for a in result.activities]
    return result


EARLIEST_START = datetime(1990, 1, 1, tzinfo=UTC)  # before FIT, GPS watches and this sport's data
LONGEST_S = 2 * 86400.0  # no single activity lasts two days; a clock or a merge went wrong


def implausible(activity: Activity) -> str | None:
    """Why an activity cannot be true as read, or None."""
    if activity.start_utc < EARLIEST_START:
        return f"it is dated {activity.start_utc:%Y-%m-%d}, before 1990: the device's clock was not set"
    if activity.elapsed_s > LONGEST_S:
        days = activity.elapsed_s / 86400
        return f"it lasts {days:.1f} days, longer than any one activity (2 days): the times are wrong"
    return None


def plausible(activities: list[Activity]) -> list[Activity]:
    """The activities that can be true; when none can, the file is set aside with the reason."""
    kept = [a for a in activities if implausible(a) is None]
    if activities and not kept:
        raise FitReadError(f"the activity cannot be imported: {implausible(activities[0])}")
    return kept


def _with_hints(activity: Activity, hints: ExportHints) -> Activity:
    sport = activity.sport
    hinted = sport_from_text(hints.sport)
    guessed = "sport_guess" in activity.raw  # judged from the track: the export's word is better
    if hinted is not None and (guessed or sport in ("generic", "workout", "unknown", "other")):
        sport = hinted
    raw = dict(activity.raw)
    raw[hints.origin] = {"id": hints.export_id, "name": hints.name, "type": hints.sport}
    return replace(activity, name=hints.name or activity.name, sport=sport, raw=raw)


# --- GPX --------------------------------------------------------------------------------------


def _refuse_dtd(data: bytes, what: str) -> None:
    # Activity files never declare a DTD; one that does may carry entity expansion tricks.
    if b"<!DOCTYPE" in data[:65536] or b"<!ENTITY" in data[:65536]:
        raise FitReadError(f"the {what} file declares a DTD or entities, which activity files never do")


UNDECLARED_NS = "urn:runstrong-sync:undeclared:"
_PREFIX_USE = re.compile(rb"</?([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=")
_PREFIX_DECLARED = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")


def repair_xml(data: bytes) -> tuple[bytes, list[str]]:
    """The usual defects of real exports, mended as other activity tools read them: a BOM or
    whitespace before the XML declaration, namespace prefixes used but never declared (Strava's
    ``gpxdata:``, Garmin's ``gpxx:``). Returns the mended bytes and what was mended."""
    fixes: list[str] = []
    body = data
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
        fixes.append("a byte-order mark")
    stripped = body.lstrip()
    if stripped is not body and len(stripped) != len(body):
        fixes.append("whitespace before the XML declaration")
        body = stripped
    used = {m.group(1) or m.group(2) for m in _PREFIX_USE.finditer(body)}
    declared = set(_PREFIX_DECLARED.findall(body))
    missing = sorted(p for p in used - declared if p not in (b"xml", b"xmlns"))
    root = next(
        (m for m in _ROOT_TAG.finditer(body) if body[m.start() + 1 : m.start() + 2] not in b"?!"), None
    )
    if missing and root is not None:
        declarations = b"".join(b' xmlns:%s="%s%s"' % (p, UNDECLARED_NS.encode(), p) for p in missing)
        body = body[: root.end()] + declarations + body[root.end() :]
        fixes.append("undeclared namespace prefixes " + ", ".join(p.decode() + ":" for p in missing))
    return body, fixes


def _parse_gpx(data: bytes) -> tuple[gpxpy.gpx.GPX, str]:
    """A strict parse first, a recovering one second; the second says what it mended."""
    import gpxpy
    import gpxpy.gpx

    try:
        return gpxpy.parse(data.decode("utf-8-sig")), "strict XML parse"
    except UnicodeDecodeError as exc:
        raise FitReadError(f"the GPX file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (gpxpy.gpx.GPXException, ValueError, StdET.ParseError) as exc:
        strict_error = exc
    mended, fixes = repair_xml(data)
    if not fixes:
        raise FitReadError(f"this is not a readable GPX file ({strict_error})")
    try:
        gpx = gpxpy.parse(mended.decode("utf-8-sig"))
    except (gpxpy.gpx.GPXException, ValueError, StdET.ParseError, UnicodeDecodeError) as exc:
        raise FitReadError(
            f"this is not a readable GPX file, even after mending {'; '.join(fixes)} ({exc})"
        ) from exc
    return gpx, f"recovering XML parse: mended {'; '.join(fixes)} (strict parse: {strict_error})"


def _read_gpx(data: bytes, source_ref: str, fingerprint: str, zone: ZoneInfo) -> FileActivities:
    _refuse_dtd(data, "GPX")
    if GPX_ROOT.search(data[:65536]) is None:
        raise FitReadError("this is not a readable GPX file (it has no <gpx> element)")
    gpx, parsed = _parse_gpx(data)
    times: list[datetime] = []
    heart: list[float | None] = []
    cadence: list[float | None] = []
    altitude: list[float | None] = []
    points: list[tuple[float, float]] = []
    sport_text: str | None = None
    track_name: str | None = None
    for track in gpx.tracks:
        sport_text = sport_text or track.type
        track_name = track_name or track.name
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    continue
                times.append(_utc(point.time))
                heart.append(_gpx_extension(point.extensions, ("hr", "heartrate")))
                cadence.append(_gpx_extension(point.extensions, ("cad", "cadence", "runcadence")))
                altitude.append(point.elevation)
                points.append((point.latitude, point.longitude))
    if len(times) < 2:
        raise FitReadError("the GPX file has no track with timed points (a route, not an activity)")
    distance = _cumulative_distance(points)
    sport = sport_from_text(sport_text)
    raw: dict[str, Any] = {
        "fingerprint": fingerprint,
        "type": sport_text,
        "creator": gpx.creator,
        "xml": parsed,
    }
    if sport is None:
        from .fitmap import judge_sport

        sport, raw["sport_guess"] = judge_sport(times, distance, cadence, sport_text)
    activity = _activity_from_series(
        source="gpx",
        source_ref=source_ref,
        sport=sport,
        times=times,
        heart=heart,
        speed=[None] * len(times),
        distance=distance,
        has_gps=True,
        laps=(),
        zone=zone,
        name=track_name or gpx.name,
        raw=raw,
        altitude=altitude,
    )
    return FileActivities([activity], fingerprint, len(times), "gpxpy")


def _gpx_extension(extensions: Sequence[Any], names: tuple[str, ...]) -> float | None:
    for extension in extensions:
        for element in extension.iter():
            tag = str(element.tag).rsplit("}", 1)[-1].lower()
            if tag in names and element.text:
                try:
                    return float(element.text)
                except ValueError:
                    return None
    return None


def _cumulative_distance(points: Sequence[tuple[float, float]]) -> list[float | None]:
    out: list[float | None] = []
    total = 0.0
    previous: tuple[float, float] | None = None
    for point in points:
        if previous is not None:
            total += _haversine_m(previous, point)
        out.append(total)
        previous = point
    return out


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


# --- TCX --------------------------------------------------------------------------------------


def _read_tcx(data: bytes, source_ref: str, fingerprint: str, zone: ZoneInfo) -> FileActivities:
    _refuse_dtd(data, "TCX")
    parsed = "strict XML parse"
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise FitReadError(f"this is not a readable TCX file ({exc})") from exc
    except (StdET.ParseError, ValueError) as exc:
        mended, fixes = repair_xml(data)
        if not fixes:
            raise FitReadError(f"this is not a readable TCX file ({exc})") from exc
        try:
            root = SafeET.fromstring(mended)  # defusedxml still: mending adds no entities
        except (StdET.ParseError, DefusedXmlException, ValueError) as again:
            raise FitReadError(
                f"this is not a readable TCX file, even after mending {'; '.join(fixes)} ({again})"
            ) from again
        parsed = f"recovering XML parse: mended {'; '.join(fixes)} (strict parse: {exc})"
    if not str(root.tag).endswith("TrainingCenterDatabase"):
        raise FitReadError(f"this XML file is not TCX (its root element is {root.tag!r})")
    activities: list[Activity] = []
    records = 0
    for index, element in enumerate(root.iter(f"{TCX_NS}Activity")):
        found = _tcx_activity(element, index, source_ref, fingerprint, zone)
        if found is not None:
            activities.append(replace(found[0], raw={**found[0].raw, "xml": parsed}))
            records += found[1]
    if not activities:
        raise FitReadError("the TCX file has no activity with timed track points or laps")
    return FileActivities(activities, fingerprint, records, "tcx")


def _tcx_activity(
    element: StdET.Element, index: int, source_ref: str, fingerprint: str, zone: ZoneInfo
) -> tuple[Activity, int] | None:
    sport_text = element.get("Sport")
    times: list[datetime] = []
    heart: list[float | None] = []
    speed: list[float | None] = []
    distance: list[float | None] = []
    altitude: list[float | None] = []
    has_gps = False
    lap_parts: list[tuple[datetime, StdET.Element]] = []
    for lap in element.iter(f"{TCX_NS}Lap"):
        start = _parse_time(lap.get("StartTime"))
        if start is not None:
            lap_parts.append((start, lap))
        for point in lap.iter(f"{TCX_NS}Trackpoint"):
            when = _parse_time(_text(point, "Time"))
            if when is None:
                continue
            times.append(when)
            heart.append(_number(point.find(f"{TCX_NS}HeartRateBpm/{TCX_NS}Value")))
            distance.append(_number(point.find(f"{TCX_NS}DistanceMeters")))
            speed.append(_tcx_speed(point))
            altitude.append(_number(point.find(f"{TCX_NS}AltitudeMeters")))
            if point.find(f"{TCX_NS}Position") is not None:
                has_gps = True
    if len(times) < 2 and not lap_parts:
        return None
    laps_start = lap_parts[0][0] if lap_parts else times[0]
    lap_total_time = sum(_number(lap.find(f"{TCX_NS}TotalTimeSeconds")) or 0.0 for _, lap in lap_parts)
    lap_total_distance = sum(_number(lap.find(f"{TCX_NS}DistanceMeters")) or 0.0 for _, lap in lap_parts)
    laps = tuple(_tcx_lap(lap, start, laps_start) for start, lap in lap_parts)
    activity = _activity_from_series(
        source="tcx",
        source_ref=source_ref,
        sport=sport_from_text(sport_text) or "workout",
        times=times,
        heart=heart,
        speed=speed,
        distance=distance,
        has_gps=has_gps,
        laps=laps,
        zone=zone,
        name=_text(element, "Notes"),
        raw={"fingerprint": fingerprint, "sport": sport_text, "id": _text(element, "Id")},
        index=index,
        start=laps_start,
        timer_s=lap_total_time or None,
        total_distance=lap_total_distance or None,
        altitude=altitude,
    )
    return activity, len(times)


def _tcx_lap(lap: StdET.Element, start: datetime, first: datetime) -> Lap:
    return Lap(
        start_offset_s=(start - first).total_seconds(),
        elapsed_s=_number(lap.find(f"{TCX_NS}TotalTimeSeconds")) or 0.0,
        timer_s=_number(lap.find(f"{TCX_NS}TotalTimeSeconds")),
        distance_m=_number(lap.find(f"{TCX_NS}DistanceMeters")),
        avg_hr=_number(lap.find(f"{TCX_NS}AverageHeartRateBpm/{TCX_NS}Value")),
        max_hr=_number(lap.find(f"{TCX_NS}MaximumHeartRateBpm/{TCX_NS}Value")),
        avg_speed_mps=None,
        intensity=(_text(lap, "Intensity") or "").lower() or None,
        trigger=(_text(lap, "TriggerMethod") or "").lower() or None,
    )


def _tcx_speed(point: StdET.Element) -> float | None:
    for child in point.iter():
        if str(child.tag).endswith("}Speed"):
            return _number(child)
    return None


def _text(element: StdET.Element, name: str) -> str | None:
    found = element.find(f"{TCX_NS}{name}")
    return found.text.strip() if found is not None and found.text else None


def _number(element: StdET.Element | None) -> float | None:
    if element is None or not element.text:
        return None
    try:
        value = float(element.text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- shared -----------------------------------------------------------------------------------


def _activity_from_series(
    *,
    source: str,
    source_ref: str,
    sport: str,
    times: list[datetime],
    heart: list[float | None],
    speed: list[float | None],
    distance: list[float | None],
    has_gps: bool,
    laps: tuple[Lap, ...],
    zone: ZoneInfo,
    name: str | None,
    raw: dict[str, Any],
    index: int = 0,
    start: datetime | None = None,
    timer_s: float | None = None,
    total_distance: float | None = None,
    altitude: Sequence[float | None] = (),
) -> Activity:
    from runstrong_sync.core.derive import derive_metrics

    from .fitmap import normalise_sport

    begin = start or times[0]
    end = times[-1] if times else begin
    elapsed = max((end - begin).total_seconds(), timer_s or 0.0)
    derived = (
        derive_metrics([t.timestamp() for t in times], heart, speed, distance, altitude) if times else None
    )
    known_distance = [d for d in distance if d is not None]
    total = max(known_distance) if known_distance else total_distance
    moving = derived.moving_s if derived is not None and derived.moving_s > 0 else (timer_s or elapsed)
    hr_values = [h for h in heart if h is not None and 30 <= h <= 230]
    offset = begin.astimezone(zone).utcoffset()
    return Activity(
        source=source,
        source_ref=source_ref,
        external_id=f"sha256-{raw['fingerprint'][:32]}:{index}",
        sport=normalise_sport(sport, None) if sport not in TEXT_SPORTS.values() else sport,
        start_utc=begin,
        utc_offset_s=int(offset.total_seconds()) if offset is not None else 0,
        elapsed_s=elapsed,
        moving_s=moving,
        distance_m=total,
        name=name,
        avg_hr=sum(hr_values) / len(hr_values) if hr_values else None,
        max_hr=max(hr_values) if hr_values else None,
        avg_speed_mps=total / moving if total and moving else None,
        trainer=not has_gps,
        has_gps=has_gps,
        laps=laps,
        derived=derived,
        raw=raw,
    )
