"""Copies of real FIT files as other activities: a new serial number and every date moved by whole days.

Benchmark data only. The walk follows the FIT protocol's framing (header, definition and data
messages, compressed-timestamp headers, developer fields); it changes the file_id serial number and
adds the shift to every timestamp-like field, then rewrites the CRCs. A shift that is a multiple of
32 s keeps compressed timestamps (5-bit offsets from the last full timestamp) valid.
"""

from __future__ import annotations

import struct

from runstrong_sync.connectors.fitfast import crc16

# global message -> field numbers holding a FIT date (uint32 seconds since 1989-12-31)
DATE_FIELDS = {
    0: {4},  # file_id.time_created
    18: {2, 253},  # session.start_time, timestamp
    19: {2, 253},  # lap.start_time, timestamp
    34: {5, 253},  # activity.local_timestamp, timestamp
}
SERIAL_FIELD = 3  # file_id.serial_number
TIMESTAMP = 253
DAY_S = 86_400


def replicate(original: bytes, serial: int, shift_days: int) -> bytes:
    """``original`` as another activity: serial ``serial``, all dates ``shift_days`` later."""
    data = bytearray(original)
    header_size = data[0]
    data_size = struct.unpack_from("<I", data, 4)[0]
    end = header_size + data_size
    shift = shift_days * DAY_S
    definitions: dict[int, tuple[int, str, list[tuple[int, int]], int]] = {}
    pos = header_size
    while pos < end:
        record_header = data[pos]
        pos += 1
        if record_header & 0x80:  # compressed timestamp: a data message of local type bits 5-6
            local = (record_header >> 5) & 0x3
            pos = _data(data, pos, definitions[local], shift, serial)
        elif record_header & 0x40:  # definition
            local = record_header & 0x0F
            endian = ">" if data[pos + 1] else "<"
            global_number = struct.unpack_from(endian + "H", data, pos + 2)[0]
            count = data[pos + 4]
            pos += 5
            fields = [(data[pos + 3 * i], data[pos + 3 * i + 1]) for i in range(count)]
            pos += 3 * count
            developer_size = 0
            if record_header & 0x20:
                developer_count = data[pos]
                pos += 1
                developer_size = sum(data[pos + 3 * i + 1] for i in range(developer_count))
                pos += 3 * developer_count
            definitions[local] = (global_number, endian, fields, developer_size)
        else:
            pos = _data(data, pos, definitions[record_header & 0x0F], shift, serial)
    if header_size >= 14:
        struct.pack_into("<H", data, 12, crc16(data[:12]))
    struct.pack_into("<H", data, end, crc16(bytes(data[:end])))
    return bytes(data[: end + 2])


def _data(
    data: bytearray,
    pos: int,
    definition: tuple[int, str, list[tuple[int, int]], int],
    shift: int,
    serial: int,
) -> int:
    global_number, endian, fields, developer_size = definition
    dates = DATE_FIELDS.get(global_number, {TIMESTAMP})
    for number, size in fields:
        if size == 4 and number in dates:
            value = struct.unpack_from(endian + "I", data, pos)[0]
            if 0x10000000 <= value < 0xFFFFFFFF:  # a real date, not "invalid" or device-relative
                struct.pack_into(endian + "I", data, pos, value + shift)
        elif global_number == 0 and number == SERIAL_FIELD and size == 4:
            struct.pack_into(endian + "I", data, pos, serial)
        pos += size
    return pos + developer_size
