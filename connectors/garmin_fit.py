"""Strength sessions as FIT workout files, for a watch's ``GARMIN/NewFiles`` folder.

A small encoder written from the FIT protocol: a 14-byte header, then for each message a
definition (little-endian, exact field sizes) and its data, then the file's CRC-16 (the one
connectors/fitfast.py checks). Messages: ``file_id`` (type workout), ``workout`` (sport training,
sub sport strength training, its name and step count) and one ``workout_step`` per step
(garmin_steps): reps (duration type ``reps``) or a hold (``time``, in ms), rest steps (intensity
rest), repeat steps (``repeat_until_steps_cmplt``: back to the work step, the number of sets), the
exercise category and name, and the cue in ``notes``.

``read_workout`` reads such a file back (any FIT workout written with normal headers), so the
files can be checked without the FIT SDK.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.fileio import write_atomic

from .fitfast import crc16
from .fitreader import FitReadError
from .garmin_steps import REPEAT, REST, Step, steps_for, workout_name

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
PROTOCOL = 0x20  # 2.0
PROFILE = 2132  # 21.32
MANUFACTURER_DEVELOPMENT = 255
FILE_WORKOUT = 5
SPORT_TRAINING, SUB_SPORT_STRENGTH = 10, 20
DURATION_TIME, DURATION_REPEAT, DURATION_REPS = 0, 6, 29
TARGET_OPEN = 2
INTENSITY_ACTIVE, INTENSITY_REST = 0, 1
FILE_PREFIX = "runstrong-"  # our files in the folder; others are never touched
MAX_STRING = 250  # a FIT field is at most 255 bytes

# Base types: (code, struct format, invalid value).
ENUM, UINT16, UINT32, UINT32Z, STRING = (
    (0x00, "B", 0xFF),
    (0x84, "H", 0xFFFF),
    (0x86, "I", 0xFFFFFFFF),
    (
        0x8C,
        "I",
        0,
    ),
    (0x07, "s", None),
)

# Field numbers (FIT profile).
FILE_ID = 0, {"type": (0, ENUM), "manufacturer": (1, UINT16), "product": (2, UINT16),
              "serial_number": (3, UINT32Z), "time_created": (4, UINT32)}  # fmt: skip
WORKOUT = 26, {"sport": (4, ENUM), "num_valid_steps": (6, UINT16), "wkt_name": (8, STRING),
               "sub_sport": (11, ENUM)}  # fmt: skip
WORKOUT_STEP = 27, {"message_index": (254, UINT16), "wkt_step_name": (0, STRING),
                    "duration_type": (1, ENUM), "duration_value": (2, UINT32), "target_type": (3, ENUM),
                    "target_value": (4, UINT32), "intensity": (7, ENUM), "notes": (8, STRING),
                    "exercise_category": (10, UINT16), "exercise_name": (11, UINT16)}  # fmt: skip


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")[:MAX_STRING]
    while raw:
        try:
            raw.decode("utf-8")
            break
        except UnicodeDecodeError:
            raw = raw[:-1]  # never cut a character in half
    return raw + b"\x00"


def _message(
    local: int, spec: tuple[int, dict[str, tuple[int, tuple[int, str, Any]]]], values: dict[str, Any]
) -> bytes:
    """A definition and its data message; fields absent from ``values`` are left out."""
    number, fields = spec
    definition = bytearray(struct.pack("<BBBHB", 0x40 | local, 0, 0, number, 0))
    data = bytearray([local])
    count = 0
    for name, (field_number, (base, fmt, invalid)) in fields.items():
        if name not in values:
            continue
        value = values[name]
        if fmt == "s":
            raw = _text(str(value))
        else:
            raw = struct.pack("<" + fmt, invalid if value is None else int(value))
        definition += bytes([field_number, len(raw), base])
        data += raw
        count += 1
    definition[5] = count
    return bytes(definition) + bytes(data)


def _step_values(index: int, step: Step) -> dict[str, Any]:
    values: dict[str, Any] = {"message_index": index, "target_type": TARGET_OPEN}
    if step.kind == REPEAT:
        values.update(duration_type=DURATION_REPEAT, duration_value=step.back_to, target_value=step.times)
        return values
    values["wkt_step_name"] = step.name
    if step.kind == REST:
        values.update(duration_type=DURATION_TIME, duration_value=(step.seconds or 0) * 1000)
        values["intensity"] = INTENSITY_REST
        return values
    if step.seconds:
        values.update(duration_type=DURATION_TIME, duration_value=step.seconds * 1000)
    else:
        values.update(duration_type=DURATION_REPS, duration_value=step.reps or 1)
    values["intensity"] = INTENSITY_ACTIVE
    if step.notes:
        values["notes"] = step.notes
    if step.code is not None:
        values["exercise_category"] = step.code.fit_category
        if step.code.fit_name is not None:  # no name: the category alone (Garmin shows its name)
            values["exercise_name"] = step.code.fit_name
    return values


def encode(name: str, steps: list[Step], created: datetime, serial: int) -> bytes:
    """The FIT workout file for ``steps``."""
    body = bytearray()
    body += _message(
        0,
        FILE_ID,
        {
            "type": FILE_WORKOUT,
            "manufacturer": MANUFACTURER_DEVELOPMENT,
            "product": 0,
            "serial_number": serial or 1,
            "time_created": int((created.astimezone(UTC) - FIT_EPOCH).total_seconds()),
        },
    )
    body += _message(
        1,
        WORKOUT,
        {
            "sport": SPORT_TRAINING,
            "sub_sport": SUB_SPORT_STRENGTH,
            "num_valid_steps": len(steps),
            "wkt_name": name,
        },
    )
    for index, step in enumerate(steps):
        body += _message(2, WORKOUT_STEP, _step_values(index, step))
    header = struct.pack("<BBHI4s", 14, PROTOCOL, PROFILE, len(body), b".FIT")
    header += struct.pack("<H", crc16(header))
    content = header + bytes(body)
    return content + struct.pack("<H", crc16(content))


def session_file(session: StrengthSession) -> bytes:
    serial = int.from_bytes(hashlib.sha256(session.uid.encode()).digest()[:4], "little") or 1
    created = session.changed_at or session.start
    return encode(workout_name(session, dated=True), steps_for(session), created, serial)


def file_name(session: StrengthSession) -> str:
    digest = hashlib.sha256(session.uid.encode()).hexdigest()[:8]
    return f"{FILE_PREFIX}{session.start:%Y%m%d}-{digest}.fit"


def write_sessions(sessions: list[StrengthSession], folder: Path) -> tuple[list[Path], list[Path]]:
    """One file per session, written atomically (an unchanged session's file stays as it is); our
    files of sessions no longer coming (moved or dropped) are removed. Other files are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for session in sessions:
        path = folder / file_name(session)
        write_atomic(path, session_file(session))
        written.append(path)
    stale = [p for p in folder.glob(f"{FILE_PREFIX}*.fit") if p not in written and p.is_file()]
    for path in stale:
        path.unlink()
    return written, stale


# --- reading back ---------------------------------------------------------------------------------


@dataclass
class WorkoutFile:
    file_id: dict[str, Any] = field(default_factory=dict)
    workout: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


_NAMES = {
    spec[0]: {num: (name, base) for name, (num, base) in spec[1].items()}
    for spec in (FILE_ID, WORKOUT, WORKOUT_STEP)
}
_FORMATS = {
    0x00: "B",
    0x01: "b",
    0x02: "B",
    0x83: "h",
    0x84: "H",
    0x85: "i",
    0x86: "I",
    0x8B: "H",
    0x8C: "I",
    0x0A: "B",
}


def _value(raw: bytes, base: int) -> Any:
    if base == 0x07:
        end = raw.find(b"\x00")
        text = (raw if end < 0 else raw[:end]).decode("utf-8", errors="replace")
        return text or None
    fmt = _FORMATS.get(base)
    if fmt is None or len(raw) != struct.calcsize("<" + fmt):
        return raw
    value = struct.unpack("<" + fmt, raw)[0]
    invalid = {0x8B: 0, 0x8C: 0}.get(base, (1 << (8 * len(raw))) - 1)
    return None if value == invalid else value


def read_workout(data: bytes) -> WorkoutFile:
    """file_id, workout and workout_step values by field name (other messages are skipped)."""
    if len(data) < 14 or data[8:12] != b".FIT":
        raise FitReadError("not a FIT file")
    size = data[0]
    end = size + struct.unpack_from("<I", data, 4)[0]
    if end + 2 > len(data) or crc16(data[: end + 2]) != 0:
        raise FitReadError("the FIT file is truncated or its CRC does not match")
    result = WorkoutFile()
    definitions: dict[int, tuple[int, list[tuple[int, int, int]]]] = {}
    pos = size
    while pos < end:
        header = data[pos]
        pos += 1
        if header & 0x80:
            raise FitReadError("compressed-timestamp headers are not used in workout files")
        local = header & 0x0F
        if header & 0x40:
            if header & 0x20 or data[pos + 1] != 0:
                raise FitReadError("developer fields and big-endian definitions are not used here")
            number, count = struct.unpack_from("<HB", data, pos + 2)
            at = pos + 5
            definitions[local] = (
                number,
                [(data[at + 3 * i], data[at + 3 * i + 1], data[at + 3 * i + 2]) for i in range(count)],
            )
            pos += 5 + 3 * count
            continue
        number, layout = definitions[local]
        values: dict[str, Any] = {}
        for field_number, length, base in layout:
            known = _NAMES.get(number, {}).get(field_number)
            if known is not None:
                values[known[0]] = _value(data[pos : pos + length], base)
            pos += length
        target = {0: "file_id", 26: "workout", 27: "steps"}.get(number)
        if target == "steps":
            result.steps.append(values)
        elif target is not None:
            setattr(result, target, values)
    return result
