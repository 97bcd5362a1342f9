"""What the FIT connector reads out of a FIT file, whichever decoder read it.

Two decoders fill this structure: fitparse (the reference) and a fast reader that decodes only
these messages and fields. Values carry fitparse's names, units and enum strings, so the two can
be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Fields kept per message; everything else in the file is skipped.
FILE_ID_FIELDS = ("type", "manufacturer", "product", "garmin_product", "serial_number", "time_created")
SESSION_FIELDS = (
    "sport",
    "sub_sport",
    "start_time",
    "timestamp",
    "total_elapsed_time",
    "total_timer_time",
    "total_distance",
    "avg_heart_rate",
    "max_heart_rate",
    "avg_speed",
    "enhanced_avg_speed",
    "total_training_effect",
    "total_anaerobic_training_effect",
)
LAP_FIELDS = (
    "start_time",
    "timestamp",
    "total_elapsed_time",
    "total_timer_time",
    "total_distance",
    "avg_heart_rate",
    "max_heart_rate",
    "avg_speed",
    "enhanced_avg_speed",
    "intensity",
    "lap_trigger",
)
ACTIVITY_FIELDS = ("timestamp", "local_timestamp", "num_sessions")
RECORD_FIELDS = (
    "timestamp",
    "heart_rate",
    "speed",
    "enhanced_speed",
    "distance",
    "position_lat",
    "altitude",
    "enhanced_altitude",
)


def number(value: Any) -> float | None:
    """A decoded field's value as a float; None for anything that is not a number (bools count)."""
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(slots=True)
class RecordSeries:
    """Per-record values, one entry per `record` message, in file order."""

    timestamp: list[datetime | None] = field(default_factory=list)  # naive UTC, as fitparse
    heart_rate: list[float | None] = field(default_factory=list)
    speed: list[float | None] = field(default_factory=list)  # enhanced_speed when present
    distance: list[float | None] = field(default_factory=list)
    altitude: list[float | None] = field(default_factory=list)  # metres; enhanced_altitude when present
    has_position: bool = False

    def __len__(self) -> int:
        return len(self.timestamp)


@dataclass(slots=True)
class FitContent:
    file_id: dict[str, Any] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    activity: dict[str, Any] = field(default_factory=dict)
    records: RecordSeries = field(default_factory=RecordSeries)
    decoder: str = "fitparse"
    incomplete: str | None = None  # the file was cut off: why; what is here was read up to the cut

    @property
    def file_type(self) -> str | None:
        value = self.file_id.get("type")
        return str(value) if value is not None else None
