"""Several athletes in one install: each with their own settings, sources, feed file and feed token.

Settings live in ``athletes.settings_json`` as the same sections as the configuration file
(``athlete``, ``planner``, ``sources``, ``feed``) and are checked by the same models. They are laid
over the file's values, except what belongs to one person only: an athlete other than the default
one never inherits the file's heart-rate and pace numbers, its FIT inbox, or Strava being enabled
(each athlete authorizes their own Strava account). Nothing of one athlete reaches another's feed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from runstrong_sync import tzdetect
from runstrong_sync.config import Config, validate
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import plugins
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import ActivityRow, Athlete

log = logging.getLogger(__name__)

DEFAULT_ATHLETE = "default"
SECTIONS = ("athlete", "planner", "sources", "feed")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PERSONAL_ATHLETE_KEYS = ("max_hr", "threshold_hr", "resting_hr", "threshold_pace", "age", "earlier")


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ConfigError(
            f"Athlete key {key!r} is not usable.",
            ["Use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit."],
        )
    return key


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def effective_config(config: Config, key: str, name: str, settings: Mapping[str, Any]) -> Config:
    """The configuration one athlete runs with: the file's, without personal parts, under theirs."""
    unknown = sorted(set(settings) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"Settings of athlete {key!r} have unknown section(s): {', '.join(unknown)}.",
            [f"Allowed sections: {', '.join(SECTIONS)}."],
        )
    base = config.model_dump(mode="python", exclude_none=True)
    if key != DEFAULT_ATHLETE:
        for personal in PERSONAL_ATHLETE_KEYS:
            base["athlete"].pop(personal, None)
        base["sources"] = {  # another athlete inherits only what each connector shares (app credentials)
            name: {k: v for k, v in values.items() if k in plugins()[name].shared}
            for name, values in base["sources"].items()
        }
        base["feed"].pop("path", None)
    merged = _merge(base, settings)
    merged["athlete"]["name"] = name
    if key != DEFAULT_ATHLETE and "path" not in merged["feed"]:
        merged["feed"]["path"] = config.resolved_data_dir / "feeds" / f"{key}.ics"
    effective = validate(merged, f"The settings of athlete {key!r}")
    return effective.model_copy(update={"source_path": config.source_path})


def effective_configs(config: Config, rows: Sequence[Athlete]) -> dict[str, Config]:
    """Every athlete's effective configuration, as ``effective_config`` gives it; athletes with
    the same settings share one validation (about a millisecond each), their name and default
    feed file put in afterwards."""
    out: dict[str, Config] = {}
    shared: dict[str, Config] = {}
    for row in rows:
        settings = row.settings_json or {}
        feed = settings.get("feed")
        if row.key == DEFAULT_ATHLETE or (isinstance(feed, Mapping) and "path" in feed):
            out[row.key] = effective_config(config, row.key, row.name, settings)
            continue
        marker = json.dumps(settings, sort_keys=True, default=str)
        template = shared.get(marker)
        if template is None:
            out[row.key] = shared[marker] = effective_config(config, row.key, row.name, settings)
            continue
        out[row.key] = template.model_copy(
            update={
                "athlete": template.athlete.model_copy(update={"name": row.name}),
                "feed": template.feed.model_copy(
                    update={"path": config.resolved_data_dir / "feeds" / f"{row.key}.ics"}
                ),
            }
        )
    return out


def find(session: Session, key: str) -> Athlete | None:
    return session.scalar(select(Athlete).where(Athlete.key == key))


def all_athletes(session: Session) -> Sequence[Athlete]:
    return session.scalars(select(Athlete).order_by(Athlete.key)).all()


def require(session: Session, key: str) -> Athlete:
    athlete = find(session, key)
    if athlete is None:
        raise ConfigError(
            f"There is no athlete {key!r}.",
            ["`runstrong-sync athletes list` shows them; `runstrong-sync athletes add KEY` adds one."],
        )
    return athlete


def config_for(db: Database, config: Config, key: str, now: datetime) -> tuple[int, Config]:
    """The athlete's id and effective configuration; the default athlete is created on first use.

    Without a configured time zone the athlete's zone is found once here (tzdetect) and handed
    on inside the configuration, so every later step works in the same zone."""
    with db.transaction() as session:
        if key == DEFAULT_ATHLETE:
            athlete = repo.ensure_athlete(session, key, config.athlete.name, now)
        else:
            athlete = require(session, key)
        settings = athlete.settings_json or {}
        effective = effective_config(config, key, athlete.name, settings)
        if zone_configured(config, settings):
            return athlete.id, effective  # nothing to find: no query on the way to a feed
        choice = time_zone_choice(session, athlete.id, effective, False)
        if choice.name != effective.athlete.time_zone:
            athlete_config = effective.athlete.model_copy(update={"time_zone": choice.name})
            effective = effective.model_copy(update={"athlete": athlete_config})
        return athlete.id, effective


def zone_configured(config: Config, settings: Mapping[str, Any]) -> bool:
    """Whether the configuration file or the athlete's own settings name a time zone."""
    personal = settings.get("athlete")
    return "time_zone" in config.athlete.model_fields_set or (
        isinstance(personal, Mapping) and "time_zone" in personal
    )


ZONE_WARNED_KEY = "time_zone.warned"
ZONE_SAMPLE_KEY = "time_zone.sample"  # what the newest activities said of the zone, and of what


def warn_zone_mismatch_once(db: Database, athlete_id: int, config: Config, now: datetime) -> str | None:
    """After a sync's activities are in: keep what they say of the athlete's zone (for `status`);
    when the configured zone disagrees with the data (Strava, the FIT files' local times), say
    so once per configured zone and disagreement; returns the warning when one was given."""
    with db.transaction() as session:
        kept = keep_zone(session, athlete_id, config, now)
        if kept is None:
            return None
        choice, configured = kept
        if not configured or choice.mismatch is None:
            return None
        said = {"zone": choice.name, "mismatch": choice.mismatch}
        if repo.get_state(session, athlete_id, ZONE_WARNED_KEY) == said:
            return None
        repo.set_state(session, athlete_id, ZONE_WARNED_KEY, said, now)
    message = (
        f"athlete.time_zone is {choice.name}, but {choice.mismatch}; "
        "sessions are placed in the configured zone (change athlete.time_zone if it is wrong)"
    )
    log.warning("%s", message)
    return message


def keep_zone(
    session: Session, athlete_id: int, config: Config, now: datetime
) -> tuple[tzdetect.TimeZoneChoice, bool] | None:
    """``remember_zone`` for the athlete with the configuration file's ``config``: their zone
    choice and whether a zone is configured (None: no such athlete). Whatever stores or deletes
    activities calls it (or ``warn_zone_mismatch_once``) once they are in or gone."""
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        return None
    settings = athlete.settings_json or {}
    configured = zone_configured(config, settings)
    effective = effective_config(config, athlete.key, athlete.name, settings)
    return remember_zone(session, athlete_id, effective, configured, now), configured


def remember_zone(
    session: Session, athlete_id: int, config: Config, configured: bool, now: datetime
) -> tzdetect.TimeZoneChoice:
    """The athlete's zone choice, its observations stored under ``ZONE_SAMPLE_KEY`` with the
    fingerprint of the activities they were counted from. The fingerprint is read first: an
    activity stored meanwhile makes the stored observations look stale, never current."""
    from runstrong_sync.storage import squad  # not loaded on the way to a plan or a list

    system = tzdetect.system_zone()
    checked = zone_to_check(config, configured, system)
    fingerprint = squad.fingerprints(session, [athlete_id]).get(athlete_id, list(squad.EMPTY_FINGERPRINT))
    observed = observed_zones(session, [athlete_id], [checked] if checked else [])[athlete_id]
    value = {
        "fingerprint": fingerprint,
        "strava": [[name, int(count)] for name, count in observed.strava],
        "with_offset": int(observed.with_offset),
        "agreeing": {key: int(count) for key, count in observed.agreeing.items()},
    }
    if repo.get_state(session, athlete_id, ZONE_SAMPLE_KEY) != value:
        repo.set_state(session, athlete_id, ZONE_SAMPLE_KEY, value, now)
    return tzdetect.choose(config.athlete.time_zone if configured else None, observed, system)


def stored_zones(
    value: Any, fingerprint: Sequence[Any], zone: ZoneInfo | None
) -> tzdetect.Observations | None:
    """The observations ``remember_zone`` stored, when the activities are still those they were
    counted from (same fingerprint) and they count ``zone``; else None: count them again."""
    if not isinstance(value, Mapping) or value.get("fingerprint") != list(fingerprint):
        return None
    agreeing = value.get("agreeing")
    if not isinstance(agreeing, Mapping) or (zone is not None and zone.key not in agreeing):
        return None
    return tzdetect.Observations(
        strava=tuple((str(name), int(count)) for name, count in value.get("strava", ())),
        with_offset=int(value.get("with_offset", 0)),
        agreeing={str(key): int(count) for key, count in agreeing.items()},
    )


def squad_zones(
    session: Session,
    chosen: Sequence[tuple[int, ZoneInfo | None]],
    stored: Mapping[int, tuple[Any, Sequence[Any]]],
) -> dict[int, tzdetect.Observations]:
    """Each athlete's observations, for (athlete id, zone checked) in ``chosen``: those stored
    (``stored``: athlete id -> stored value, current fingerprint) while their fingerprint is
    current, the others counted again here. Reads only: nothing is stored."""
    from runstrong_sync.storage.squad import EMPTY_FINGERPRINT

    found: dict[int, tzdetect.Observations] = {}
    stale: list[int] = []
    zones: set[ZoneInfo] = set()
    for athlete_id, zone in chosen:
        value, fingerprint = stored.get(athlete_id, (None, EMPTY_FINGERPRINT))
        observed = stored_zones(value, fingerprint, zone)
        if observed is None:
            stale.append(athlete_id)
            zones.update([zone] if zone is not None else [])
        else:
            found[athlete_id] = observed
    if stale:
        found.update(observed_zones(session, stale, zones))
    return found


TIME_ZONE_SAMPLE = 200  # the newest activities say where the runner lives now


def time_zone_choice(
    session: Session,
    athlete_id: int,
    config: Config,
    configured: bool,
    known: tuple[tzdetect.Observations, ZoneInfo | None] | None = None,
) -> tzdetect.TimeZoneChoice:
    """The zone in use and where it came from (configuration, Strava, this machine).

    ``known``: what ``observed_zones`` and ``tzdetect.system_zone()`` gave, when many athletes
    are looked at at once (``observed_zones`` asked about the zone checked: ``zone_to_check``);
    by default both are read here.
    """
    if known is None:
        system = tzdetect.system_zone()
        checked = zone_to_check(config, configured, system)
        known = observed_zones(session, [athlete_id], [checked] if checked else [])[athlete_id], system
    observed, system = known
    return tzdetect.choose(config.athlete.time_zone if configured else None, observed, system)


def zone_to_check(config: Config, configured: bool, system: ZoneInfo | None) -> ZoneInfo | None:
    """The zone whose offsets the FIT files' own local times are compared with."""
    return ZoneInfo(config.athlete.time_zone) if configured else system


def observed_zones(
    session: Session, athlete_ids: Sequence[int], zones: Iterable[ZoneInfo]
) -> dict[int, tzdetect.Observations]:
    """What each athlete's newest activities (``TIME_ZONE_SAMPLE``) say of their time zone, counted
    by the database over the columns kept for it: Strava's zones, the files with their own local
    time and how many of those have the offset of each of ``zones`` on their day.

    Each athlete's sample is found through the index from the start of their 200th newest activity
    on, so the cost follows the sample, not the history. When that start is shared by activities
    the sample cuts between, or two Strava zones are first named at the same moment, the
    athlete's sample is numbered activity by activity instead (newest first, then by id)."""
    checked = {zone.key: zone for zone in zones}
    if not athlete_ids:
        return {}
    periods = _offset_periods(session, _cutoffs(athlete_ids, span=True), checked.values())
    found = _counted(session, athlete_ids, _cutoffs(athlete_ids), periods)
    unsure = [a for a, rows in found.items() if not _exact(rows)]
    if unsure:
        found.update(_numbered(session, unsure, periods))
    return {a: _observations(found[a], list(checked)) for a in athlete_ids}


def _cutoffs(athlete_ids: Sequence[int], *, span: bool = False) -> Any:
    """Per athlete: the start of their ``TIME_ZONE_SAMPLE``-th newest activity (None: fewer), with
    ``span`` their oldest and newest start too. The limit keeps SQLite from merging it into a join,
    where the cutoff would be looked up again for every activity."""
    older = aliased(ActivityRow)

    def start(descending: bool, skip: int) -> Any:
        order = older.start_utc.desc() if descending else older.start_utc
        found = select(older.start_utc).where(older.athlete_id == Athlete.id).order_by(order)
        return found.limit(1).offset(skip).scalar_subquery()

    ends = [start(False, 0).label("oldest"), start(True, 0).label("newest")] if span else []
    return (
        select(Athlete.id.label("athlete_id"), start(True, TIME_ZONE_SAMPLE - 1).label("since"), *ends)
        .where(Athlete.id.in_(athlete_ids))
        .limit(len(athlete_ids))
        .subquery()
    )


def _offset_periods(
    session: Session, cutoffs: Any, zones: Iterable[ZoneInfo]
) -> dict[str, list[tuple[datetime, int]]]:
    """Each zone's UTC offsets over the time the athletes' samples span."""
    zones = list(zones)
    if not zones:
        return {}
    first, last = session.execute(
        select(func.min(func.coalesce(cutoffs.c.since, cutoffs.c.oldest)), func.max(cutoffs.c.newest))
    ).one()
    if first is None or last is None:
        return {zone.key: [] for zone in zones}
    first, last = _aware(first), _aware(last)
    return {zone.key: tzdetect.offset_periods(zone, first, last) for zone in zones}


def _agreeing(start: Any, offset: Any, periods: dict[str, Any]) -> list[Any]:
    """Per zone checked: how many files with their own local time have its offset at their start."""
    return [func.sum(case((offset == _offset_at(start, found), 1), else_=0)) for found in periods.values()]


# A row per athlete and Strava zone (None: every other activity): (athlete, zone, activities,
# files with their own local time, the order Strava named the zone in, agreeing per zone checked).
def _counted(
    session: Session, athlete_ids: Sequence[int], cutoffs: Any, periods: dict[str, Any]
) -> dict[int, list[Any]]:
    """Every sample counted in one grouped query; the order of a zone is its newest start (negated)."""
    row = ActivityRow
    earliest = literal(datetime(1, 1, 1, tzinfo=UTC), row.start_utc.type)
    query = (
        select(
            row.athlete_id,
            row.time_zone,
            func.count(),
            func.count(row.file_offset_s),
            func.max(row.start_utc),
            *_agreeing(row.start_utc, row.file_offset_s, periods),
        )
        .join(
            cutoffs,
            (cutoffs.c.athlete_id == row.athlete_id)
            & (row.start_utc >= func.coalesce(cutoffs.c.since, earliest)),
        )
        .group_by(row.athlete_id, row.time_zone)
    )
    found: dict[int, list[Any]] = {a: [] for a in athlete_ids}
    for athlete, zone, count, offsets, newest, *agreeing in session.execute(query):
        found[athlete].append((zone, count, offsets, -_aware(newest).timestamp(), *agreeing))
    return found


def _exact(rows: Sequence[Any]) -> bool:
    """Whether counting from the cutoff gave the sample itself, and Strava's zones in one order."""
    orders = [r[3] for r in rows if r[0] is not None]
    return sum(r[1] for r in rows) <= TIME_ZONE_SAMPLE and len(set(orders)) == len(orders)


def _numbered(session: Session, athlete_ids: Sequence[int], periods: dict[str, Any]) -> dict[int, list[Any]]:
    """The samples of ``athlete_ids`` numbered activity by activity; the order is the position."""
    newest = (
        select(
            ActivityRow.athlete_id,
            ActivityRow.start_utc,
            ActivityRow.time_zone,
            ActivityRow.file_offset_s,
            func.row_number()
            .over(
                partition_by=ActivityRow.athlete_id, order_by=(ActivityRow.start_utc.desc(), ActivityRow.id)
            )
            .label("position"),
        )
        .where(ActivityRow.athlete_id.in_(athlete_ids))
        .subquery()
    )
    query = (
        select(
            newest.c.athlete_id,
            newest.c.time_zone,
            func.count(),
            func.count(newest.c.file_offset_s),
            func.min(newest.c.position),
            *_agreeing(newest.c.start_utc, newest.c.file_offset_s, periods),
        )
        .where(newest.c.position <= TIME_ZONE_SAMPLE)
        .group_by(newest.c.athlete_id, newest.c.time_zone)
    )
    found: dict[int, list[Any]] = {a: [] for a in athlete_ids}
    for athlete, *counts in session.execute(query):
        found[athlete].append(tuple(counts))
    return found


def _observations(rows: Sequence[Any], keys: Sequence[str]) -> tzdetect.Observations:
    """One athlete's counts, a row per Strava zone (and one for the rest), as Observations."""
    strava = sorted((r[3], r[0], r[1]) for r in rows if r[0] is not None)
    return tzdetect.Observations(
        strava=tuple((name, count) for _, name, count in strava),
        with_offset=sum(r[2] for r in rows),
        agreeing={key: sum(int(r[4 + i] or 0) for r in rows) for i, key in enumerate(keys)},
    )


def _aware(value: datetime) -> datetime:
    """Aggregates bypass the column type on some databases: make the value UTC-aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _offset_at(start: ColumnElement[datetime], periods: Sequence[tuple[datetime, int]]) -> Any:
    """The zone's offset at ``start``, as SQL: the newest period first (most runs are recent)."""
    if len(periods) <= 1:
        return literal(periods[0][1] if periods else 0)
    whens = [(start >= since, offset) for since, offset in reversed(periods[1:])]
    return case(*whens, else_=periods[0][1])


def add(
    db: Database, config: Config, key: str, name: str, settings: Mapping[str, Any], now: datetime
) -> Athlete:
    check_key(key)
    effective_config(config, key, name, settings)  # refuse bad settings before storing them
    with db.transaction() as session:
        if find(session, key) is not None:
            raise ConfigError(
                f"Athlete {key!r} exists already.",
                ["Pick another key, or remove that athlete first (`runstrong-sync athletes remove`)."],
            )
        athlete = repo.ensure_athlete(session, key, name, now)
        athlete.settings_json = dict(settings)
        return athlete


def remove(db: Database, key: str) -> int:
    """Delete the athlete and everything stored for them; returns how many activities went."""
    with db.transaction() as session:
        athlete = require(session, key)
        count = len(repo.activity_rows(session, athlete.id))
        session.delete(athlete)
        return count


def keys(db: Database, config: Config, now: datetime) -> list[str]:
    """Every athlete to sync: the default one first (created as before), then the others."""
    with db.transaction() as session:
        repo.ensure_athlete(session, DEFAULT_ATHLETE, config.athlete.name, now)
        others = [
            key
            for key in session.scalars(select(Athlete.key).order_by(Athlete.key))
            if key != DEFAULT_ATHLETE
        ]
    return [DEFAULT_ATHLETE, *others]


def now_for(today: date | None, config: Config, clock: datetime | None = None) -> datetime:
    """The pipeline's "now": the start of a pinned day (reproducible), else the clock."""
    zone = config.athlete.zone
    if today is not None:
        return datetime.combine(today, time(0, 0), tzinfo=zone)
    return (clock or datetime.now(zone)).astimezone(zone)


def local_day(config: Config, now: datetime) -> date:
    """The athlete's calendar day at ``now``; a run computes it once and hands it to every stage."""
    return now.astimezone(config.athlete.zone).date()
