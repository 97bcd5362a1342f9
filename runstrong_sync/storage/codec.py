"""Domain objects to and from the JSON kept in the database."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from runstrong_sync.core.domain import DerivedMetrics, Exercise, Lap, Reason, WorkBout

_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


def _flat(value: Any) -> dict[str, Any]:
    """A dataclass of plain values as a dict: what ``asdict`` gives, without its deep copies
    (which cost more than the rest of storing an activity)."""
    return {name: getattr(value, name) for name in _names(type(value))}


def laps_to_json(laps: tuple[Lap, ...]) -> list[Any]:
    return [_flat(lap) for lap in laps]


def laps_from_json(data: list[Any]) -> tuple[Lap, ...]:
    return tuple(Lap(**item) for item in data)


def derived_to_json(derived: DerivedMetrics | None) -> dict[str, Any] | None:
    if derived is None:
        return None
    data = _flat(derived)
    data["bouts"] = [_flat(bout) for bout in derived.bouts]
    for key in ("hr_seconds", "hr_run_at_or_above", "speed_seconds", "speed_run_at_or_above"):
        data[key] = {str(level): round(value, 1) for level, value in sorted(data[key].items())}
    return data


def derived_from_json(data: dict[str, Any] | None) -> DerivedMetrics | None:
    if data is None:
        return None
    values = dict(data)
    for key in ("hr_seconds", "hr_run_at_or_above", "speed_seconds", "speed_run_at_or_above"):
        values[key] = {int(level): float(seconds) for level, seconds in values.get(key, {}).items()}
    values["bouts"] = tuple(WorkBout(**bout) for bout in values.get("bouts", ()))
    known = DerivedMetrics.__dataclass_fields__
    return DerivedMetrics(**{k: v for k, v in values.items() if k in known})


def reasons_to_json(reasons: tuple[Reason, ...]) -> list[Any]:
    return [{"code": r.code, "text": r.text} for r in reasons]


def reasons_from_json(data: list[Any]) -> tuple[Reason, ...]:
    return tuple(Reason(item["code"], item["text"]) for item in data)


def exercises_to_json(exercises: tuple[Exercise, ...]) -> list[Any]:
    return [_flat(exercise) for exercise in exercises]


def exercises_from_json(data: list[Any]) -> tuple[Exercise, ...]:
    return tuple(Exercise(**item) for item in data)
