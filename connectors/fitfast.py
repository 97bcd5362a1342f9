"""A fast FIT decoder for the few messages and fields runstrong-sync keeps.

Written from the FIT protocol: file header, definition and data messages (normal and
compressed-timestamp headers), per-definition architecture, developer fields (skipped by size),
chained files, invalid-value sentinels, CRC-16 of header and file. Values are named, scaled and
rendered exactly as fitparse (the reference, connectors/fitreader.py) renders them, using profile
tables generated from fitparse's profile (connectors/fitprofile.py).

Only file_id, session, lap, record and activity data are decoded; every other message is skipped
by its size. Whenever the input holds something this module cannot vouch for - an odd definition,
a CRC mismatch, a truncated file, a value on which fitparse itself would stumble - it raises
FitFastUnsupportedError and `read_fit` falls back to fitparse, which then gives the real answer
(the values, or a FitReadError with its message).
"""

from __future__ import annotations

import logging
import struct
import sys
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from runstrong_sync.errors import FitReadError

from . import fitprofile as prof
from .fitdata import (
    ACTIVITY_FIELDS,
    FILE_ID_FIELDS,
    LAP_FIELDS,
    RECORD_FIELDS,
    SESSION_FIELDS,
    FitContent,
)
from .fitdata import number as _number
from .fitreader import FitCutOffError, read_fit_fitparse, read_fit_salvage

__all__ = [
    "FitFastUnsupportedError",
    "FitFastVerdictError",
    "FitReadError",
    "clear_plan_cache",
    "crc16",
    "read_fit",
    "read_fit_fast",
]

_log = logging.getLogger(__name__)


class FitFastUnsupportedError(Exception):
    """The fast decoder cannot vouch for this input; decode it with fitparse instead."""


class FitFastVerdictError(FitFastUnsupportedError):
    """The file is refused, and the message is the one fitparse would give: no second decoding."""


# --- CRC-16 (FIT uses CRC-16/ARC: reflected poly 0x8005, init 0) ------------------------------


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC8: Final[list[int]] = _byte_table()
_crc16_words = array("H")  # built on first use: 65536 entries, two bytes per lookup


def _word_table() -> array[int]:
    # After xoring a little-endian word into the 16-bit register, two byte steps depend only on
    # the xored value, so one lookup does both. An array (128 KiB) rather than a list of int
    # objects: it stays in cache, which makes the lookups ~3x faster.
    t8 = _CRC8
    return array("H", [(t8[v & 0xFF] >> 8) ^ t8[((v >> 8) ^ t8[v & 0xFF]) & 0xFF] for v in range(65536)])


# The FIT polynomial x^16 + x^15 + x^2 + 1 is (x + 1)(x^15 + x + 1), and x^15 + x + 1 is
# primitive: x^32767 = 1 modulo the polynomial. So a block followed by any multiple of 32767
# bytes (8 * 32767 bits) contributes to the CRC exactly as it would alone, and with a zero
# initial value leading zero bytes contribute nothing: the CRC of a long input is the CRC of
# its 32767-byte blocks (aligned on the end) xored together, which big ints do at C speed.
_FOLD: Final = 32767


def crc16(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-16 of the FIT protocol over ``data``, continuing from ``crc``."""
    global _crc16_words
    table = _crc16_words
    if not table:
        table = _crc16_words = _word_table()
    view = memoryview(data)
    if crc == 0 and len(view) > _FOLD:
        head = len(view) % _FOLD
        folded = int.from_bytes(view[:head], "big")
        for start in range(head, len(view), _FOLD):
            folded ^= int.from_bytes(view[start : start + _FOLD], "big")
        view = memoryview(folded.to_bytes(_FOLD, "big"))
    even = len(view) & ~1
    words = array("H")
    words.frombytes(view[:even])  # a C-speed copy; the loop below is the only per-word cost
    if sys.byteorder == "big":
        words.byteswap()
    for word in words:
        crc = table[crc ^ word]
    if even != len(view):
        crc = (crc >> 8) ^ _CRC8[(crc ^ view[even]) & 0xFF]
    return crc


# --- base types ------------------------------------------------------------------------------

# id -> (struct char, size, invalid value, family); the invalid value is compared with the raw
# number as the protocol defines it per base type (all bits set but the sign, or 0 for *z types).
_INT, _STRING, _FLOAT, _BYTE = 0, 1, 2, 3
_BYTE_ID: Final = 0x0D  # the byte-array base type
_BASE: Final[dict[int, tuple[str, int, int | None, int]]] = {
    0x00: ("B", 1, 0xFF, _INT),  # enum
    0x01: ("b", 1, 0x7F, _INT),  # sint8
    0x02: ("B", 1, 0xFF, _INT),  # uint8
    0x83: ("h", 2, 0x7FFF, _INT),  # sint16
    0x84: ("H", 2, 0xFFFF, _INT),  # uint16
    0x85: ("i", 4, 0x7FFFFFFF, _INT),  # sint32
    0x86: ("I", 4, 0xFFFFFFFF, _INT),  # uint32
    0x07: ("s", 1, None, _STRING),  # string
    0x88: ("f", 4, None, _FLOAT),  # float32 (NaN is invalid)
    0x89: ("d", 8, None, _FLOAT),  # float64
    0x0A: ("B", 1, 0, _INT),  # uint8z
    0x8B: ("H", 2, 0, _INT),  # uint16z
    0x8C: ("I", 4, 0, _INT),  # uint32z
    0x0D: ("s", 1, None, _BYTE),  # byte array: invalid when every byte is 0xFF
    0x8E: ("q", 8, 0x7FFFFFFFFFFFFFFF, _INT),  # sint64
    0x8F: ("Q", 8, 0xFFFFFFFFFFFFFFFF, _INT),  # uint64
    0x90: ("Q", 8, 0, _INT),  # uint64z
}
_UINT8: Final = 0x02
_STRING_ID: Final = 0x07

# --- profile facts ---------------------------------------------------------------------------

_FILE_ID, _SESSION, _LAP, _RECORD, _ACTIVITY = 0, 18, 19, 20, 34
_FIELD_DESCRIPTION, _DEVELOPER_DATA_ID = 206, 207
_TIMESTAMP: Final = 253
_KEPT_NAMES: Final[dict[int, frozenset[str]]] = {
    _FILE_ID: frozenset(FILE_ID_FIELDS),
    _SESSION: frozenset(SESSION_FIELDS),
    _LAP: frozenset(LAP_FIELDS),
    _RECORD: frozenset(RECORD_FIELDS),
    _ACTIVITY: frozenset(ACTIVITY_FIELDS),
}
_ENUMS: Final = prof.ENUMS
_LOCAL_DATE_TIME_VALUES: Final = prof.LOCAL_DATE_TIME_VALUES

# fitparse turns date_time values from 0x10000000 on into naive UTC datetimes; smaller values are
# seconds since the device powered on and stay plain ints.
_SYSTEM_TIME_LIMIT: Final = 0x10000000
_FIT_EPOCH: Final = datetime(1989, 12, 31)


_STEPS: Final = 256
_STEP_DELTAS: Final = tuple(timedelta(seconds=step) for step in range(_STEPS))


def _date_time(raw: int) -> datetime:
    return _FIT_EPOCH + timedelta(seconds=raw)


# --- per-definition plans --------------------------------------------------------------------

# What a data message of a definition asks for.
_SKIP, _KEPT, _DEV_ID, _DEV_FIELD = 0, 1, 2, 3

# Step operations, run in fitparse's field order (a field's components come before the field).
_OP_NUM, _OP_ENUM, _OP_DATE, _OP_LOCAL_DATE, _OP_SUBFIELD, _OP_COMPONENT, _OP_ARRAY = range(7)
# Guards: values on which fitparse's processors raise.
_GUARD_LOCAL_DATE, _GUARD_INTO_DAY = 0, 1

Step = tuple[str, int, int, Any, Any, Any, Any]
# (unpack, ts, ts invalid, hr, hr invalid, distance, invalid, scale, position_lat, invalid,
#  speed sources, compressed_speed_distance, altitude sources)
SimpleRecord = tuple[
    Callable[[bytes, int], tuple[Any, ...]],
    int,
    Any,
    int,
    Any,
    int,
    Any,
    Any,
    int,
    Any,
    tuple[tuple[int, Any, Any], ...],
    int,
    tuple[tuple[int, Any, Any, Any], ...],
]
SimpleFields = tuple[
    int,
    Any,
    int,
    Any,
    int,
    Any,
    Any,
    int,
    Any,
    tuple[tuple[int, Any, Any], ...],
    int,
    tuple[tuple[int, Any, Any, Any], ...],
]
# The profile's layout of compressed_speed_distance: speed in bits 0-11 (1/100 m/s), distance in
# bits 12-23 (1/16 m, accumulated across rollovers).
_PACKED_SPEED: Final = (12, 0, 100, None)
_PACKED_DISTANCE: Final = (12, 12, 16, None)
_PACKED_INVALID: Final = b"\xff\xff\xff"
_PACKED_KEY: Final = (20, 5)
# Components that copy their whole source field (enhanced_speed from speed, enhanced_altitude
# from altitude): the same value as the field itself.
_PLAIN_COMPONENTS: Final = frozenset(
    {("enhanced_speed", (16, 0, 1000, None)), ("enhanced_altitude", (16, 0, 5, 500))}
)


class _Plan:
    """How to read data messages of one definition: a struct for the needed values, and steps."""

    __slots__ = (
        "fields",
        "guards",
        "kind",
        "mesg",
        "record",
        "size",
        "steps",
        "ts_index",
        "ts_invalid",
        "ts_kept",
        "unpack",
    )

    def __init__(self, mesg: int, size: int) -> None:
        self.mesg = mesg
        self.size = size
        self.kind = _SKIP
        self.unpack: Callable[[bytes, int], tuple[Any, ...]] | None = None
        self.ts_index = -1
        self.ts_invalid: int | None = None
        self.ts_kept = False  # does this message keep a compressed-header timestamp?
        self.steps: tuple[Step, ...] = ()
        self.guards: tuple[tuple[int, int, int | None], ...] = ()
        self.fields: dict[int, tuple[int, int | None]] = {}  # field -> (tuple index, invalid); 206/207
        self.record: SimpleRecord | None = None  # set when a record needs no general steps


_PLANS: dict[bytes, _Plan] = {}  # definition bytes (architecture on) -> plan; plans are read-only
_PLANS_MAX: Final = 4096


def clear_plan_cache() -> None:
    """Forget the definitions seen so far (for cold-start measurements)."""
    _PLANS.clear()


class _Decoder:
    """Decodes one FIT byte string; state is per chained file except the developer registry."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.content = FitContent(decoder="fast")
        # fitparse keeps developer field descriptions for the whole run, across chained files.
        self.dev_fields: dict[Any, dict[Any, tuple[int, str]]] = {}
        self.accumulators: dict[tuple[int, int], int] = {}

    def run(self) -> FitContent:
        data = self.data
        pos = 0
        total = len(data)
        while True:
            pos = self._file(pos)
            if pos >= total:
                return self.content

    def _file(self, pos: int) -> int:
        """Decode one (possibly chained) FIT file starting at ``pos``; return where it ends."""
        data = self.data
        if len(data) - pos < 12:
            raise FitFastUnsupportedError("file header cut short")
        header_size = data[pos]
        if data[pos + 8 : pos + 12] != b".FIT":
            raise FitFastUnsupportedError("no .FIT signature")
        if len(data) - pos < header_size:
            raise FitFastUnsupportedError("file header cut short")
        if header_size == 14:
            (header_crc,) = struct.unpack_from("<H", data, pos + 12)
            if header_crc != 0 and header_crc != crc16(data[pos : pos + 12]):
                raise FitFastUnsupportedError("header CRC mismatch")
        elif header_size != 12:
            raise FitFastUnsupportedError(f"unusual header size {header_size}")
        data_size: int = struct.unpack_from("<I", data, pos + 4)[0]
        start = pos + header_size
        end = start + data_size
        if end + 2 > len(data):
            raise FitFastUnsupportedError("file shorter than its header says")
        # Appending the little-endian CRC makes the CRC of the whole span zero.
        intact = crc16(memoryview(data)[pos : end + 2]) == 0
        self.accumulators.clear()  # per chained file, as fitparse
        self._messages(start, end)
        if not intact:
            # Every message decoded, as fitparse would decode them before it checks the CRC: its
            # verdict is known without reading the file a second time.
            computed = crc16(memoryview(data)[pos:end])
            (stored,) = struct.unpack_from("<H", data, end)
            raise FitFastVerdictError(
                f"the FIT checksum does not match (CRC Mismatch [computed: 0x{computed:04X}, "
                f"read: 0x{stored:04X}]); the file is damaged"
            )
        return end + 2

    # -- messages ---------------------------------------------------------------------------

    def _messages(self, pos: int, end: int) -> None:
        data = self.data
        content = self.content
        records = content.records
        rec_ts = records.timestamp
        rec_hr = records.heart_rate
        rec_speed = records.speed
        rec_dist = records.distance
        rec_alt = records.altitude
        has_position = records.has_position
        plans: list[_Plan | None] = [None] * 16
        ts_acc = 0  # last timestamp seen, for compressed-timestamp headers
        kept = self._kept_values
        steps = _STEP_DELTAS
        accumulators = self.accumulators
        last_stamp = 0
        last_date = _FIT_EPOCH
        while pos < end:
            header = data[pos]
            if header & 0x80:  # compressed timestamp header: local type in bits 5-6
                plan = plans[(header >> 5) & 0x03]
                offset = header & 0x1F
            elif header & 0x40:
                plans[header & 0x0F], pos = self._definition(pos, end, header)
                continue
            else:
                plan = plans[header & 0x0F]
                offset = -1
            if plan is None:
                raise FitFastUnsupportedError("data message without definition")
            body = pos + 1
            pos = body + plan.size
            if pos > end:
                raise FitFastUnsupportedError("data message runs past the data size")
            simple = plan.record
            if simple is not None:  # the usual record: straight-line decoding, no dict, no guards
                (
                    unpack_record,
                    ts_i,
                    ts_inv,
                    hr_i,
                    hr_inv,
                    dist_i,
                    dist_inv,
                    dist_scale,
                    pos_i,
                    pos_inv,
                    speeds,
                    packed_i,
                    alts,
                ) = simple
                values = unpack_record(data, body)
                altitude = None
                for alt_i, alt_inv, alt_scale, alt_offset in alts:  # the last valid one wins
                    raw = values[alt_i]
                    if raw != alt_inv:
                        altitude = float(raw) / alt_scale - alt_offset
                rec_alt.append(altitude)
                stamp: Any = None
                if ts_i >= 0:
                    raw = values[ts_i]
                    if raw != ts_inv:
                        stamp = ts_acc = raw
                if offset >= 0:
                    stamp = ts_acc = _rollover(offset, ts_acc)
                if stamp is not None and stamp >= _SYSTEM_TIME_LIMIT:
                    # Building a timedelta costs ~10x adding a ready one: step from the last stamp.
                    step = stamp - last_stamp
                    last_date = last_date + steps[step] if 0 <= step < _STEPS else _date_time(stamp)
                    last_stamp = stamp
                    stamp = last_date
                rec_ts.append(stamp)
                if hr_i >= 0:
                    raw = values[hr_i]
                    rec_hr.append(None if raw == hr_inv else float(raw))
                else:
                    rec_hr.append(None)
                if packed_i >= 0:
                    raw = values[packed_i]
                    if raw == _PACKED_INVALID:
                        rec_speed.append(None)
                        rec_dist.append(None)
                    else:
                        number = int.from_bytes(raw, "little")
                        rec_speed.append(float(number & 0xFFF) / 100)
                        total = _rollover((number >> 12) & 0xFFF, accumulators.get(_PACKED_KEY, 0), 12)
                        accumulators[_PACKED_KEY] = total
                        rec_dist.append(float(total) / 16)
                    if pos_i >= 0 and values[pos_i] != pos_inv:
                        has_position = True
                    continue
                speed = None
                for speed_i, speed_inv, speed_scale in speeds:  # the last valid one wins
                    raw = values[speed_i]
                    if raw != speed_inv:
                        speed = float(raw) / speed_scale
                rec_speed.append(speed)
                if dist_i >= 0:
                    raw = values[dist_i]
                    rec_dist.append(None if raw == dist_inv else float(raw) / dist_scale)
                else:
                    rec_dist.append(None)
                if pos_i >= 0 and values[pos_i] != pos_inv:
                    has_position = True
                continue
            unpack = plan.unpack
            if unpack is None:  # nothing wanted from this message
                if offset >= 0:
                    ts_acc = _rollover(offset, ts_acc)
                continue
            values = unpack(data, body)
            if plan.ts_index >= 0:
                raw_ts = values[plan.ts_index]
                if raw_ts != plan.ts_invalid:
                    ts_acc = raw_ts
            if offset >= 0:
                ts_acc = _rollover(offset, ts_acc)
            for index, guard, invalid in plan.guards:
                _check_guard(values[index], guard, invalid)
            kind = plan.kind
            if kind == _KEPT:
                out = kept(plan, values)
                if offset >= 0 and plan.ts_kept:
                    out["timestamp"] = _date_time(ts_acc) if ts_acc >= _SYSTEM_TIME_LIMIT else ts_acc
                mesg = plan.mesg
                if mesg == _RECORD:
                    rec_ts.append(out.get("timestamp"))
                    rec_hr.append(_number(out.get("heart_rate")))
                    rec_speed.append(_number(out.get("enhanced_speed", out.get("speed"))))
                    rec_dist.append(_number(out.get("distance")))
                    rec_alt.append(_number(out.get("enhanced_altitude", out.get("altitude"))))
                    if "position_lat" in out:
                        has_position = True
                    continue
                out = dict(sorted(out.items()))  # fitparse fills its dicts in field-name order
                if mesg == _LAP:
                    content.laps.append(out)
                elif mesg == _SESSION:
                    content.sessions.append(out)
                elif mesg == _FILE_ID:
                    if not content.file_id:  # chained files: the first header names the file
                        content.file_id = out
                else:
                    content.activity = out
            elif kind == _DEV_ID:
                self._developer_data_id(plan, values)
            elif kind == _DEV_FIELD:
                self._field_description(plan, values)
        if pos != end:
            raise FitFastUnsupportedError("last message runs past the data size")
        records.has_position = has_position

    def _kept_values(self, plan: _Plan, values: tuple[Any, ...]) -> dict[str, Any]:
        """Field values as fitparse names them; for a repeated name the last valid value wins."""
        out: dict[str, Any] = {}
        for name, op, index, invalid, p1, p2, p3 in plan.steps:
            raw = values[index]
            if op == _OP_NUM:
                if raw == invalid:
                    continue
                value: Any = raw
                if p1:
                    value = float(value) / p1
                if p2:
                    value = value - p2
            elif op == _OP_DATE:
                if raw == invalid:
                    continue
                value = _date_time(raw) if raw >= _SYSTEM_TIME_LIMIT else raw
            elif op == _OP_COMPONENT:
                value = self._component(raw, invalid, p1, p2, p3)
                if value is None:
                    continue
            elif op == _OP_ENUM:
                if raw == invalid:
                    continue
                value = _render(raw, p1, p2, p3)
            elif op == _OP_SUBFIELD:
                if raw == invalid:
                    continue
                name, value = _subfield(raw, values, name, p1, p2)
                if name not in p3:  # resolved to a subfield we do not keep
                    continue
            elif op == _OP_ARRAY:
                value = tuple(None if item == invalid else _scaled(item, p2, p3) for item in p1(raw))
            else:  # _OP_LOCAL_DATE
                if raw == invalid:
                    continue
                if raw in _LOCAL_DATE_TIME_VALUES:  # fitparse names it, then cannot date it
                    raise FitFastUnsupportedError("local_date_time holds the 'min' marker")
                value = _date_time(raw)
            out[name] = value
        return out

    def _component(
        self, raw: Any, invalid: int | None, layout: tuple[int, int, Any, Any], nbytes: int, acc_key: Any
    ) -> Any:
        """A value packed in bits of another field (e.g. speed and distance in 3 bytes)."""
        if nbytes:  # byte array, little endian whatever the architecture
            if raw == b"\xff" * nbytes:
                return None
            bits, bit_offset, scale, offset = layout
            if bit_offset >= nbytes * 8:
                return None  # fitparse drops a component beyond the array
            number = int.from_bytes(raw, "little")
        else:
            if raw == invalid:
                return None
            bits, bit_offset, scale, offset = layout
            number = raw
        value: Any = (number >> bit_offset) & ((1 << bits) - 1)
        if acc_key is not None:
            value = _rollover(value, self.accumulators.get(acc_key, 0), bits)
            self.accumulators[acc_key] = value
        if scale:
            value = float(value) / scale
        if offset:
            value = value - offset
        return value

    def _developer_data_id(self, plan: _Plan, values: tuple[Any, ...]) -> None:
        index = _field_value(plan, values, 3)
        self.dev_fields[index] = {}  # a new developer id forgets that index's fields

    def _field_description(self, plan: _Plan, values: tuple[Any, ...]) -> None:
        index = _field_value(plan, values, 0)
        number = _field_value(plan, values, 1)
        base_type = _field_value(plan, values, 2)
        raw_name = _field_value(plan, values, 3)
        if index is None or index not in self.dev_fields:
            raise FitFastUnsupportedError("field description for an unknown developer")
        if base_type not in _BASE:
            raise FitFastUnsupportedError("developer field of unknown base type")
        name = _parse_string(raw_name) if raw_name is not None else None
        self.dev_fields[index][number] = (base_type, name or f"unnamed_dev_field_{number}")

    # -- definitions ------------------------------------------------------------------------

    def _definition(self, pos: int, end: int, header: int) -> tuple[_Plan, int]:
        data = self.data
        has_dev = bool(header & 0x20)
        if pos + 6 > end:
            raise FitFastUnsupportedError("definition runs past the data size")
        arch = data[pos + 2]
        if arch > 1:
            raise FitFastUnsupportedError(f"unknown architecture {arch}")
        endian = ">" if arch else "<"
        (mesg,) = struct.unpack_from(endian + "H", data, pos + 3)
        num_fields = data[pos + 5]
        fields_at = pos + 6
        after = fields_at + 3 * num_fields
        dev_specs: list[tuple[int, int, int]] = []
        if has_dev:
            if after + 1 > end:
                raise FitFastUnsupportedError("definition runs past the data size")
            num_dev = data[after]
            dev_at = after + 1
            after = dev_at + 3 * num_dev
            if after > end:
                raise FitFastUnsupportedError("definition runs past the data size")
            dev_specs = [(data[i], data[i + 1], data[i + 2]) for i in range(dev_at, after, 3)]
        if after > end:
            raise FitFastUnsupportedError("definition runs past the data size")
        for field in self._accumulating_fields(mesg, data, fields_at, num_fields):
            self.accumulators[(mesg, field)] = 0  # fitparse restarts these on every definition
        # Without developer fields a plan depends on the definition bytes alone: files from the
        # same device repeat them, so plans are shared across files.
        key = data[pos + 2 : after] if not has_dev else b""
        plan = _PLANS.get(key) if key else None
        if plan is None:
            specs = [
                (data[i], data[i + 1], data[i + 2]) for i in range(fields_at, fields_at + 3 * num_fields, 3)
            ]
            plan = self._build_plan(mesg, endian, specs, dev_specs)
            if key:
                if len(_PLANS) >= _PLANS_MAX:
                    _PLANS.clear()
                _PLANS[key] = plan
        return plan, after

    @staticmethod
    def _accumulating_fields(mesg: int, data: bytes, fields_at: int, num_fields: int) -> list[int]:
        resets = prof.ACCUMULATOR_RESETS.get(mesg)
        if not resets:
            return []
        targets: list[int] = []
        for i in range(fields_at, fields_at + 3 * num_fields, 3):
            targets.extend(resets.get(data[i], ()))
        return targets

    def _build_plan(
        self, mesg: int, endian: str, specs: list[tuple[int, int, int]], dev_specs: list[tuple[int, int, int]]
    ) -> _Plan:
        kept_names = _KEPT_NAMES.get(mesg)
        offsets: list[int] = []
        size = 0
        for position, (number, field_size, base_id) in enumerate(specs):
            base = _BASE.get(base_id)
            if base is None:
                raise FitFastUnsupportedError(f"unknown base type {base_id:#x}")
            if field_size == 0:
                raise FitFastUnsupportedError(f"field {number} has size 0")
            if field_size % base[1]:
                # A size that is no multiple of its type (Coros writes a 1-byte uint32 event
                # field): read as bytes, as fitdecode and the FIT SDK do.
                specs[position] = (number, field_size, _BYTE_ID)
            offsets.append(size)
            size += field_size
        for number, field_size, dev_index in dev_specs:
            described = self.dev_fields.get(dev_index, {}).get(number)
            if described is None:
                raise FitFastUnsupportedError("developer field without description")
            if number == _TIMESTAMP:
                raise FitFastUnsupportedError("developer field numbered like the timestamp")
            dev_base = _BASE[described[0]]
            if field_size == 0 or field_size % dev_base[1]:
                raise FitFastUnsupportedError("developer field size does not fit its base type")
            if kept_names is not None and described[1] in kept_names:
                raise FitFastUnsupportedError(f"developer field named {described[1]!r}")
            size += field_size
        plan = _Plan(mesg, size)
        simple: SimpleFields | None = None

        # Values to unpack: field position in the definition -> index in the unpacked tuple.
        wanted: dict[int, int] = {}

        def want(position: int) -> int:
            if position not in wanted:
                wanted[position] = len(wanted)
            return wanted[position]

        def scalar_int(position: int, what: str) -> int | None:
            number, field_size, base_id = specs[position]
            _char, base_size, invalid, family = _BASE[base_id]
            if family != _INT or field_size != base_size:
                raise FitFastUnsupportedError(f"{what}: field {number} of message {mesg} has an unusual type")
            return invalid

        positions: dict[int, list[int]] = {}
        for position, (number, _size, _base) in enumerate(specs):
            positions.setdefault(number, []).append(position)

        ts_positions = positions.get(_TIMESTAMP, [])
        if len(ts_positions) > 1:
            raise FitFastUnsupportedError("repeated timestamp field")
        if ts_positions:
            plan.ts_invalid = scalar_int(ts_positions[0], "timestamp")
            plan.ts_index = want(ts_positions[0])

        guards: list[tuple[int, int, int | None]] = []
        self._guard_fields(mesg, specs, positions, scalar_int, want, guards)
        plan.guards = tuple(guards)

        if kept_names is not None:
            plan.kind = _KEPT
            plan.ts_kept = "timestamp" in kept_names
            plan.steps = self._kept_steps(mesg, endian, specs, scalar_int, want)
            if mesg == _RECORD and not plan.guards:
                simple = _simple_record(plan.steps, specs)
        elif mesg == _DEVELOPER_DATA_ID:
            plan.kind = _DEV_ID
            plan.fields = self._registry_fields(specs, positions, {3: _UINT8}, want)
        elif mesg == _FIELD_DESCRIPTION:
            plan.kind = _DEV_FIELD
            plan.fields = self._registry_fields(
                specs, positions, {0: _UINT8, 1: _UINT8, 2: _UINT8, 3: _STRING_ID, 8: _STRING_ID}, want
            )

        if wanted or plan.kind != _SKIP:  # kept messages count even when all their fields are unknown
            plan.unpack = _compile_struct(endian, specs, offsets, wanted)
            if simple is not None:
                plan.record = (plan.unpack, *simple)
        return plan

    @staticmethod
    def _guard_fields(
        mesg: int,
        specs: list[tuple[int, int, int]],
        positions: dict[int, list[int]],
        scalar_int: Callable[[int, str], int | None],
        want: Callable[[int], int],
        guards: list[tuple[int, int, int | None]],
    ) -> None:
        """Fields whose odd values make fitparse's value processors raise, in any message."""
        for number in prof.DATE_TIME_FIELDS.get(mesg, ()):
            for position in positions.get(number, ()):
                scalar_int(position, "date_time")  # arrays or floats would break fitparse
                if specs[position][2] in (0x8E, 0x8F, 0x90):
                    raise FitFastUnsupportedError("64-bit date_time")
        for number in prof.LOCAL_DATE_TIME_FIELDS.get(mesg, ()):
            for position in positions.get(number, ()):
                invalid = scalar_int(position, "local_date_time")
                if specs[position][2] not in (0x02, 0x84, 0x86, 0x0A, 0x8B, 0x8C, 0x00):
                    raise FitFastUnsupportedError("signed or wide local_date_time")
                guards.append((want(position), _GUARD_LOCAL_DATE, invalid))
        for number in prof.LOCALTIME_INTO_DAY_FIELDS.get(mesg, ()):
            for position in positions.get(number, ()):
                invalid = scalar_int(position, "localtime_into_day")
                guards.append((want(position), _GUARD_INTO_DAY, invalid))
        for number in prof.COMPONENT_FIELDS.get(mesg, ()):
            for position in positions.get(number, ()):
                _number, field_size, base_id = specs[position]
                _char, base_size, _invalid, family = _BASE[base_id]
                # fitparse unpacks components from numbers and byte arrays; anything else breaks it
                if not (family == _BYTE or (family == _INT and field_size == base_size)):
                    raise FitFastUnsupportedError(
                        f"field {number} of message {mesg} with components has an odd type"
                    )

    @staticmethod
    def _registry_fields(
        specs: list[tuple[int, int, int]],
        positions: dict[int, list[int]],
        expected: dict[int, int],
        want: Callable[[int], int],
    ) -> dict[int, tuple[int, int | None]]:
        """Fields of developer_data_id / field_description; fitparse reads the first of each."""
        fields: dict[int, tuple[int, int | None]] = {}
        for number, base_id in expected.items():
            found = positions.get(number)
            if not found:
                continue
            _num, field_size, declared = specs[found[0]]
            if declared != base_id or (base_id != _STRING_ID and field_size != 1):
                raise FitFastUnsupportedError("developer registry field of an unusual type")
            fields[number] = (want(found[0]), _BASE[base_id][2])
        return fields

    def _kept_steps(
        self,
        mesg: int,
        endian: str,
        specs: list[tuple[int, int, int]],
        scalar_int: Callable[[int, str], int | None],
        want: Callable[[int], int],
    ) -> tuple[Step, ...]:
        kept_fields = prof.KEPT_FIELDS[mesg]
        components = prof.KEPT_COMPONENTS.get(mesg, {})
        subfields = prof.KEPT_SUBFIELDS.get(mesg, {})
        steps: list[Step] = []
        for position, (number, field_size, base_id) in enumerate(specs):
            comps = components.get(number, ())
            if comps:
                char, base_size, invalid, family = _BASE[base_id]
                nbytes = field_size if family == _BYTE else 0
                if not nbytes:
                    invalid = scalar_int(position, "component source")
                index = want(position)
                for target, target_number, bits, bit_offset, scale, offset, accumulate in comps:
                    acc_key = (mesg, target_number) if accumulate else None
                    layout = (bits, bit_offset, scale, offset)
                    steps.append((target, _OP_COMPONENT, index, invalid, layout, nbytes, acc_key))
            spec = kept_fields.get(number)
            if spec is None:
                continue
            name, kind, enum, scale, offset = spec
            char, base_size, invalid, family = _BASE[base_id]
            if (
                family == _INT
                and field_size > base_size
                and kind in ("num", "enum")
                and number not in subfields
            ):
                # Recent Garmin devices write some summary speeds as arrays; fitparse keeps the tuple.
                elements = struct.Struct(f"{endian}{field_size // base_size}{char}")
                steps.append((name, _OP_ARRAY, want(position), invalid, elements.unpack, scale, offset))
                continue
            invalid = scalar_int(position, name)
            index = want(position)
            if number in subfields:
                alternatives = []
                for sub_name, sub_kind, sub_enum, sub_scale, sub_offset, refs in subfields[number]:
                    if sub_kind not in ("num", "enum") and sub_name in _KEPT_NAMES[mesg]:
                        raise FitFastUnsupportedError("unexpected subfield kind")
                    checks = []
                    for ref_number, ref_raw in refs:
                        for ref_position, ref_spec in enumerate(specs):
                            if ref_spec[0] == ref_number:
                                ref_invalid = scalar_int(ref_position, "subfield reference")
                                checks.append((want(ref_position), ref_invalid, ref_raw))
                    table = _ENUMS[sub_enum] if sub_enum else None
                    alternatives.append((tuple(checks), sub_name, table, sub_scale, sub_offset))
                base = (_ENUMS[enum] if enum else None, scale, offset)
                steps.append(
                    (name, _OP_SUBFIELD, index, invalid, base, tuple(alternatives), _KEPT_NAMES[mesg])
                )
            elif kind == "num":
                steps.append((name, _OP_NUM, index, invalid, scale, offset, None))
            elif kind == "enum":
                steps.append((name, _OP_ENUM, index, invalid, _ENUMS[str(enum)], scale, offset))
            elif kind == "date_time":
                steps.append((name, _OP_DATE, index, invalid, None, None, None))
            else:
                steps.append((name, _OP_LOCAL_DATE, index, invalid, None, None, None))
        return tuple(steps)


def _compile_struct(
    endian: str, specs: list[tuple[int, int, int]], offsets: list[int], wanted: dict[int, int]
) -> Callable[[bytes, int], tuple[Any, ...]]:
    """One precompiled struct per definition: pad bytes for skipped fields, one code per value.

    Values come out in `wanted` index order, so fields are unpacked in position order and then
    reordered only when a value was asked for out of order (rare: subfield references).
    """
    order = sorted(wanted, key=lambda position: offsets[position])
    fmt = [endian]
    at = 0
    for position in order:
        _number, field_size, base_id = specs[position]
        char, base_size, _invalid, family = _BASE[base_id]
        gap = offsets[position] - at
        if gap:
            fmt.append(f"{gap}x")
        # byte arrays, strings and (kept) number arrays come out as bytes, decoded by their step
        fmt.append(char if family == _INT and field_size == base_size else f"{field_size}s")
        at = offsets[position] + field_size
    compiled = struct.Struct("".join(fmt))
    if [wanted[position] for position in order] == list(range(len(order))):
        return compiled.unpack_from
    permutation = [0] * len(order)
    for slot, position in enumerate(order):
        permutation[wanted[position]] = slot
    unpack = compiled.unpack_from

    def reordered(data: bytes, offset: int) -> tuple[Any, ...]:
        raw = unpack(data, offset)
        return tuple(raw[slot] for slot in permutation)

    return reordered


def _rollover(value: int, last: int, bits: int = 5) -> int:
    """Rebuild a full value from its low ``bits``, given the last full value (it only grows)."""
    mask = (1 << bits) - 1
    full = value + (last & ~mask)
    if value < (last & mask):
        full += 1 << bits
    return full


def _scaled(value: Any, scale: Any, offset: Any) -> Any:
    if scale:
        value = float(value) / scale
    if offset:
        value = value - offset
    return value


def _simple_record(steps: tuple[Step, ...], specs: list[tuple[int, int, int]]) -> SimpleFields | None:
    """The straight-line form of a record definition, when its steps allow one.

    Allowed: at most one timestamp, heart_rate, distance and position_lat field read directly,
    and speed from speed (uint16, whose enhanced_speed component then has the same value) and/or
    enhanced_speed. Anything else (compressed speed/distance, repeated fields, arrays, offsets)
    goes through the general steps.
    """
    found: dict[str, tuple[int, Any, Any]] = {}
    speeds: list[tuple[int, Any, Any]] = []
    alts: list[tuple[int, Any, Any, Any]] = []
    speed_fields = 0
    packed: list[tuple[str, int]] = []
    for name, op, index, invalid, p1, p2, p3 in steps:
        if op == _OP_COMPONENT:
            packed_speed = name == "speed" and p1 == _PACKED_SPEED and p3 is None
            packed_distance = name == "distance" and p1 == _PACKED_DISTANCE and p3 == (_RECORD, 5)
            if (packed_speed or packed_distance) and p2 == 3:
                packed.append((name, index))
            elif (name, p1) not in _PLAIN_COMPONENTS or p2 or p3 is not None:
                return None
            continue  # same value as its source field, handled there
        if name in ("altitude", "enhanced_altitude"):
            if op != _OP_NUM or not p1:
                return None
            alts.append((index, invalid, p1, p2 or 0))
            continue
        if name in ("speed", "enhanced_speed"):
            if op != _OP_NUM or p2 or not p1:
                return None
            speeds.append((index, invalid, p1))
            speed_fields += 1
            continue
        if name in found:
            return None
        if name == "timestamp":
            if op != _OP_DATE:
                return None
        elif op != _OP_NUM or p2 or (name != "distance" and p1):
            return None
        found[name] = (index, invalid, p1)
    speed_numbers = [number for number, _size, _base in specs if number in (6, 73)]
    if len(speed_numbers) != len(set(speed_numbers)) or speed_fields != len(speed_numbers):
        return None
    for number, _size, base_id in specs:
        if number in (2, 6) and base_id != 0x84:  # the component masks 16 bits: equal only for uint16
            return None
    packed_index = -1
    if packed:  # compressed_speed_distance (3 bytes), alone as the source of speed and distance
        if len(packed) != 2 or packed[0][1] != packed[1][1] or speeds or "distance" in found:
            return None
        packed_index = packed[0][1]
    ts = found.get("timestamp", (-1, None, None))
    hr = found.get("heart_rate", (-1, None, None))
    dist = found.get("distance", (-1, None, None))
    pos = found.get("position_lat", (-1, None, None))
    if dist[0] >= 0 and not dist[2]:
        return None
    return (
        ts[0],
        ts[1],
        hr[0],
        hr[1],
        dist[0],
        dist[1],
        dist[2],
        pos[0],
        pos[1],
        tuple(speeds),
        packed_index,
        tuple(alts),
    )


def _render(raw: int, table: dict[int, str] | None, scale: Any, offset: Any) -> Any:
    value: Any = table.get(raw, raw) if table is not None else raw
    if isinstance(value, int):
        if scale:
            value = float(value) / scale
        if offset:
            value = value - offset
    return value


def _subfield(
    raw: int, values: tuple[Any, ...], name: str, base: tuple[Any, Any, Any], alternatives: Any
) -> tuple[str, Any]:
    """A field whose meaning depends on another field (product is garmin_product for Garmin)."""
    for checks, sub_name, table, scale, offset in alternatives:
        for index, invalid, ref_raw in checks:
            ref = values[index]
            if ref != invalid and ref == ref_raw:
                return sub_name, _render(raw, table, scale, offset)
    return name, _render(raw, *base)


def _check_guard(raw: Any, guard: int, invalid: int | None) -> None:
    if raw == invalid:
        return
    if guard == _GUARD_LOCAL_DATE:
        if raw in _LOCAL_DATE_TIME_VALUES:
            raise FitFastUnsupportedError("local_date_time holds the 'min' marker")
    elif not 0 <= raw < 86400:
        raise FitFastUnsupportedError("time of day out of range")


def _field_value(plan: _Plan, values: tuple[Any, ...], number: int) -> Any:
    found = plan.fields.get(number)
    if found is None:
        return None
    index, invalid = found
    raw = values[index]
    if isinstance(raw, bytes):
        return raw
    return None if raw == invalid else raw


def _parse_string(raw: bytes) -> str | None:
    """A FIT string: UTF-8 up to the first NUL (or the whole field when there is none)."""
    end = raw.find(b"\x00")
    text = (raw if end < 0 else raw[:end]).decode("utf-8", errors="replace")
    return text or None


# --- public API --------------------------------------------------------------------------------


def read_fit_fast(data: bytes) -> FitContent:
    """Decode ``data`` with the fast decoder, or raise FitFastUnsupportedError."""
    try:
        return _Decoder(bytes(data)).run()
    except FitFastUnsupportedError:
        raise
    except (struct.error, IndexError, KeyError, ValueError, TypeError, OverflowError) as exc:
        # A guard we did not think of: not a verdict on the file, fitparse will give one.
        raise FitFastUnsupportedError(f"unexpected {type(exc).__name__}: {exc}") from exc


def read_fit(data: bytes) -> FitContent:
    """Decode ``data`` fast when possible, else with fitparse; FitContent.decoder says which."""
    try:
        return read_fit_fast(data)
    except FitFastVerdictError as exc:
        raise FitReadError(str(exc)) from exc
    except FitFastUnsupportedError as exc:
        _log.debug("fast FIT decoder steps aside: %s", exc)
    try:
        content = read_fit_fitparse(data)
    except FitCutOffError as exc:
        salvaged = read_fit_salvage(data, str(exc))
        if salvaged is None:
            raise
        return salvaged
    except FitReadError:
        raise
    except Exception as exc:  # fitparse raised something read_fit_fitparse does not translate
        raise FitReadError(f"the FIT data cannot be decoded ({type(exc).__name__}: {exc})") from exc
    content.decoder = "fitparse"
    return content
