"""Read a FIT file into FitContent with fitparse, the reference decoder."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import fitparse
import fitparse.utils

from runstrong_sync.errors import FitReadError

from .fitdata import (
    ACTIVITY_FIELDS,
    FILE_ID_FIELDS,
    LAP_FIELDS,
    RECORD_FIELDS,
    SESSION_FIELDS,
    FitContent,
    number,
)

__all__ = ["FitReadError", "read_fit_fitparse"]  # FitReadError lives in runstrong_sync.errors


class FitCutOffError(FitReadError):
    """The file ends before its header says it should: cut off while copying or recording."""


MIN_SALVAGED_RECORDS = 60  # less than a minute of records is not worth a run


def _pick(message: Any, names: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for data in message:
        if data.name in names and data.value is not None:
            values[data.name] = data.value
    return values


def read_fit_fitparse(data: bytes) -> FitContent:
    """Decode ``data`` completely with fitparse (CRC checked) and keep the fields we use."""
    try:
        fit = fitparse.FitFile(io.BytesIO(data), check_crc=True)
        return _collect(fit)
    except fitparse.utils.FitCRCError as exc:
        raise FitReadError(f"the FIT checksum does not match ({exc}); the file is damaged") from exc
    except fitparse.utils.FitEOFError as exc:
        raise FitCutOffError(f"the file ends early ({exc}); it was probably cut off while copying") from exc
    except fitparse.utils.FitHeaderError as exc:
        raise FitReadError(f"this is not a FIT file, or its header is damaged ({exc})") from exc
    except fitparse.utils.FitParseError as exc:
        raise FitReadError(f"the FIT data cannot be decoded ({exc})") from exc
    except (ValueError, KeyError, IndexError, TypeError, OverflowError) as exc:
        raise FitReadError(f"the FIT data is malformed ({type(exc).__name__}: {exc})") from exc


def read_fit_salvage(data: bytes, why: str) -> FitContent | None:
    """What a cut-off file holds up to where it ends: its messages, read without the checksum
    (which is missing). None when too little is left (under ``MIN_SALVAGED_RECORDS`` records)."""
    content = FitContent(decoder="fitparse")
    with contextlib.suppress(  # the end of what is there
        fitparse.utils.FitParseError, ValueError, KeyError, IndexError, TypeError, OverflowError
    ):
        _collect(fitparse.FitFile(io.BytesIO(data), check_crc=False), content)
    timed = sum(t is not None for t in content.records.timestamp)
    if timed < MIN_SALVAGED_RECORDS:
        return None
    content.incomplete = why
    return content


def _collect(fit: fitparse.FitFile, content: FitContent | None = None) -> FitContent:
    content = content or FitContent(decoder="fitparse")
    records = content.records
    for message in fit.get_messages(["file_id", "session", "lap", "activity", "record"]):
        name = message.name
        if name == "record":
            values = _pick(message, RECORD_FIELDS)
            records.timestamp.append(values.get("timestamp"))
            records.heart_rate.append(number(values.get("heart_rate")))
            speed = values.get("enhanced_speed", values.get("speed"))
            records.speed.append(number(speed))
            records.distance.append(number(values.get("distance")))
            records.altitude.append(number(values.get("enhanced_altitude", values.get("altitude"))))
            if values.get("position_lat") is not None:
                records.has_position = True
        elif name == "lap":
            content.laps.append(_pick(message, LAP_FIELDS))
        elif name == "session":
            content.sessions.append(_pick(message, SESSION_FIELDS))
        elif name == "file_id":
            if not content.file_id:  # chained files: the first header names the file
                content.file_id = _pick(message, FILE_ID_FIELDS)
        elif name == "activity":
            content.activity = _pick(message, ACTIVITY_FIELDS)
    return content
