"""The fast FIT decoder must give exactly what fitparse gives, or step aside.

Every fixture is decoded by both; values (and their types) must be identical. Where fitparse
fails, the fast path must refuse and `read_fit` must raise fitparse's FitReadError. Hand-built
files cover what the fixtures lack (big-endian definitions, developer fields, device-relative
timestamps, odd values), and a seeded mutator checks that no input makes the decoders crash,
hang, or disagree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import signal
import struct
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from runstrong_sync.connectors.fitdata import FitContent
from runstrong_sync.connectors.fitfast import FitFastUnsupportedError, crc16, read_fit, read_fit_fast
from runstrong_sync.connectors.fitreader import FitCutOffError, read_fit_fitparse, read_fit_salvage

from runstrong_sync.errors import FitReadError

ROOT = Path(__file__).resolve().parents[1]
FIT = ROOT / "fixtures" / "fit"
FIXTURES = sorted(FIT.rglob("*.fit"))
# Too big for the repository; the shared fixture folder sits beside the checkout (CI) or above it.
LARGE_CANDIDATES = [
    base / "shared" / "fixtures" / "fit" / "running" / "ultra-12h-fenix6x_large.fit"
    for base in (ROOT.parent, ROOT.parent.parent)
]
LARGE = next((path for path in LARGE_CANDIDATES if path.is_file()), None)


def typed(value: Any) -> Any:
    """Values with their types, so 1 and 1.0 (or an int and a datetime) never compare equal.

    Dicts become lists of items: their key order must match fitparse's too.
    """
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(item) for item in value])
    return (type(value).__name__, value)


def snapshot(content: FitContent) -> Any:
    values = dataclasses.asdict(content)
    values.pop("decoder")
    return typed(values)


# fitparse refuses a field whose size is no multiple of its type; fitdecode and the FIT SDK read
# it as bytes, and so does the fast decoder (test_fit_crosscheck compares those with fitdecode).
MISALIGNED = "Invalid field size"


def reference(data: bytes) -> FitContent | FitReadError:
    """fitparse's reading; a cut-off file is read up to its cut (or refused when too little is left)."""
    try:
        return read_fit_fitparse(data)
    except FitCutOffError as exc:
        salvaged = read_fit_salvage(data, str(exc))
        return exc if salvaged is None else salvaged
    except FitReadError as exc:
        return exc


def assert_agrees(data: bytes, *, fast_expected: bool | None = True) -> FitContent | None:
    """fast == fitparse, or the fast path refused and read_fit gives fitparse's answer."""
    expected = reference(data)
    try:
        fast: FitContent | None = read_fit_fast(data)
    except FitFastUnsupportedError:
        fast = None
    if fast_expected is not None:
        assert (fast is not None) == fast_expected
    if isinstance(expected, FitReadError) and MISALIGNED in str(expected):
        return None
    if isinstance(expected, FitReadError):
        assert fast is None, "the fast path accepted a file fitparse rejects"
        with pytest.raises(FitReadError) as caught:
            read_fit(data)
        assert str(caught.value) == str(expected)
        return None
    if fast is not None:
        assert fast.decoder == "fast"
        assert snapshot(fast) == snapshot(expected)
    combined = read_fit(data)
    assert combined.decoder == ("fast" if fast is not None else "fitparse")
    assert snapshot(combined) == snapshot(expected)
    return combined


# --- fixtures ----------------------------------------------------------------------------------


def test_fixtures_are_present() -> None:
    assert len(FIXTURES) >= 30
    assert not any(path.name == "ultra-12h-fenix6x_large.fit" for path in FIXTURES)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: str(path.relative_to(FIT)))
def test_fixture_matches_fitparse(path: Path) -> None:
    data = path.read_bytes()
    expected = reference(data)
    if isinstance(expected, FitReadError) and MISALIGNED in str(expected):
        assert read_fit(data).decoder == "fast"
        return
    if isinstance(expected, FitContent) and expected.incomplete:
        with pytest.raises(FitFastUnsupportedError):
            read_fit_fast(data)
        salvaged = read_fit(data)
        assert salvaged.incomplete and snapshot(salvaged) == snapshot(expected)
        return
    if isinstance(expected, FitReadError):
        with pytest.raises(FitFastUnsupportedError):
            read_fit_fast(data)
        with pytest.raises(FitReadError) as caught:
            read_fit(data)
        assert str(caught.value) == str(expected)
        return
    fast = read_fit_fast(data)  # every readable fixture is within the fast path's reach
    assert snapshot(fast) == snapshot(expected)
    assert len(fast.records) == len(expected.records)
    combined = read_fit(data)
    assert combined.decoder == "fast"
    assert snapshot(combined) == snapshot(expected)


@pytest.mark.slow
@pytest.mark.skipif(LARGE is None, reason="ultra-12h-fenix6x_large.fit is not beside the checkout")
def test_large_fixture_matches_fitparse() -> None:
    assert LARGE is not None
    data = LARGE.read_bytes()
    fast = read_fit_fast(data)
    assert len(fast.records) == 42709
    assert snapshot(fast) == snapshot(read_fit_fitparse(data))


def test_compressed_speed_distance_uses_the_components() -> None:
    content = read_fit_fast((FIT / "running" / "compressed-speed-distance.fit").read_bytes())
    speeds = [speed for speed in content.records.speed if speed is not None]
    distances = [dist for dist in content.records.distance if dist is not None]
    assert len(speeds) > 700 and len(distances) > 700
    assert distances == sorted(distances)  # accumulated across the 12-bit rollover
    assert distances[-1] > 4096 / 16  # past at least one rollover of the packed distance
    # The FR70 stamps seconds since power-on (below 0x10000000): fitparse leaves those as ints.
    stamps: list[Any] = list(content.records.timestamp)  # typed as datetimes, but these are ints
    assert all(type(stamp) is int and stamp < 0x10000000 for stamp in stamps)
    assert stamps == sorted(stamps) and content.sessions[0]["start_time"] == stamps[0]


def test_chained_file_keeps_the_first_file_id() -> None:
    content = read_fit((FIT / "multisport" / "sample_mulitple_header.fit").read_bytes())
    assert content.decoder == "fast"
    assert content.file_id["type"] == "activity"
    assert len(content.sessions) == 5


def test_crc_matches_the_protocol_check_value() -> None:
    assert crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value
    assert crc16(b"12345678" + b"9") == crc16(b"9", crc16(b"12345678"))


@pytest.mark.parametrize("size", [0, 1, 2, 32766, 32767, 32768, 65534, 65535, 65536, 100_001])
def test_folded_crc_of_long_inputs_equals_the_byte_by_byte_crc(size: int) -> None:
    data = random.Random(size).randbytes(size)
    expected = 0
    for byte in data:  # the protocol's definition, one bit at a time
        expected ^= byte
        for _ in range(8):
            expected = (expected >> 1) ^ 0xA001 if expected & 1 else expected >> 1
    assert crc16(data) == expected


# --- hand-built files --------------------------------------------------------------------------

ENUM, SINT8, UINT8, SINT16, UINT16, SINT32, UINT32 = 0x00, 0x01, 0x02, 0x83, 0x84, 0x85, 0x86
STRING, UINT32Z, BYTE = 0x07, 0x8C, 0x0D
TS = 1_000_000_000  # 2021-09-08, seconds since the FIT epoch


def fit_file(*messages: bytes, header_size: int = 14, header_crc: bool = True) -> bytes:
    body = b"".join(messages)
    header = struct.pack("<BBHI4s", header_size, 0x20, 2132, len(body), b".FIT")
    if header_size == 14:
        header += struct.pack("<H", crc16(header) if header_crc else 0)
    content = header + body
    return content + struct.pack("<H", crc16(content))


def definition(
    local: int,
    mesg: int,
    fields: list[tuple[int, int, int]],
    *,
    big: bool = False,
    dev: list[tuple[int, int, int]] | None = None,
) -> bytes:
    header = 0x40 | local | (0x20 if dev else 0)
    out = bytes([header, 0, 1 if big else 0]) + struct.pack(">H" if big else "<H", mesg)
    out += bytes([len(fields)]) + b"".join(bytes(spec) for spec in fields)
    if dev:
        out += bytes([len(dev)]) + b"".join(bytes(spec) for spec in dev)
    return out


def message(local: int, fmt: str, *values: Any, big: bool = False, time_offset: int | None = None) -> bytes:
    header = local if time_offset is None else 0x80 | (local << 5) | time_offset
    return bytes([header]) + struct.pack((">" if big else "<") + fmt, *values)


FILE_ID_DEF = definition(
    0, 0, [(0, 1, ENUM), (1, 2, UINT16), (2, 2, UINT16), (3, 4, UINT32Z), (4, 4, UINT32)]
)


def file_id(manufacturer: int = 1, product: int = 1) -> bytes:
    return FILE_ID_DEF + message(0, "BHHII", 4, manufacturer, product, 12345, TS)


SESSION_DEF = definition(
    2,
    18,
    [
        *[(253, 4, UINT32), (2, 4, UINT32), (5, 1, ENUM), (6, 1, ENUM), (7, 4, UINT32), (9, 4, UINT32)],
        *[(14, 2, UINT16), (124, 8, UINT32), (16, 1, UINT8), (24, 1, UINT8)],
    ],
)


def session(sport: int = 1) -> bytes:
    return SESSION_DEF + message(
        2, "IIBBIIH2IBB", TS + 60, TS, sport, 0, 60000, 20000, 3000, 3100, 0xFFFFFFFF, 150, 31
    )


def test_big_endian_records_and_garmin_product() -> None:
    record_def = definition(
        1, 20, [(253, 4, UINT32), (0, 4, SINT32), (3, 1, UINT8), (5, 4, UINT32), (6, 2, UINT16)], big=True
    )
    records = [
        message(1, "IiBIH", TS + i, 500_000 + i, 140 + i, 250 * i, 3000 + i, big=True) for i in range(5)
    ]
    data = fit_file(file_id(), record_def, *records, session())
    content = assert_agrees(data)
    assert content is not None
    assert content.file_id["garmin_product"] == "hrm1" and "product" not in content.file_id
    assert content.records.heart_rate == [140.0, 141.0, 142.0, 143.0, 144.0]
    assert content.records.speed[1] == 3.001 and content.records.has_position
    assert content.sessions[0]["enhanced_avg_speed"] == (3.1, None)  # an array, kept as fitparse keeps it


def test_unknown_manufacturer_keeps_the_raw_product() -> None:
    content = assert_agrees(fit_file(file_id(manufacturer=9999, product=77)))
    assert content is not None
    assert content.file_id["manufacturer"] == 9999 and content.file_id["product"] == 77


def test_device_relative_and_compressed_timestamps() -> None:
    record_def = definition(0, 20, [(253, 4, UINT32), (3, 1, UINT8)])
    short_def = definition(1, 20, [(3, 1, UINT8)])
    other_def = definition(2, 0xFF00, [(253, 4, UINT32), (1, 2, UINT16)])  # unknown message: skipped
    data = fit_file(
        record_def,
        message(0, "IB", 1000, 120),  # below 0x10000000: seconds since power-on, kept as int
        short_def,
        message(1, "B", 121, time_offset=1000 % 32 + 5),
        message(1, "B", 122, time_offset=3),  # rolls over the 5-bit offset
        other_def,
        message(2, "IH", TS, 7),  # a skipped message still sets the timestamp base
        message(1, "B", 123, time_offset=(TS + 2) % 32),
        message(0, "IB", 0xFFFFFFFF, 124),  # invalid timestamp
    )
    content = assert_agrees(data)
    assert content is not None
    stamps = content.records.timestamp
    assert stamps[:3] == [1000, 1005, 1027]
    assert isinstance(stamps[3], datetime) and stamps[4] is None


def developer_preamble(name: bytes) -> bytes:
    dev_id = definition(3, 207, [(3, 1, UINT8), (1, 16, BYTE)]) + message(3, "B16s", 0, bytes(range(16)))
    description = definition(
        4, 206, [(0, 1, UINT8), (1, 1, UINT8), (2, 1, UINT8), (3, 16, STRING), (8, 8, STRING)]
    )
    return dev_id + description + message(4, "BBB16s8s", 0, 7, UINT16, name, b"watts")


def test_developer_fields_are_skipped() -> None:
    record_def = definition(0, 20, [(253, 4, UINT32), (3, 1, UINT8)], dev=[(7, 2, 0)])
    data = fit_file(
        file_id(),
        developer_preamble(b"Power"),
        record_def,
        *[message(0, "IBH", TS + i, 150, 300) for i in range(3)],
    )
    content = assert_agrees(data)
    assert content is not None and content.records.heart_rate == [150.0] * 3


def test_developer_field_named_like_a_kept_field_goes_to_fitparse() -> None:
    record_def = definition(0, 20, [(253, 4, UINT32)], dev=[(7, 2, 0)])
    data = fit_file(file_id(), developer_preamble(b"heart_rate"), record_def, message(0, "IH", TS, 99))
    content = assert_agrees(data, fast_expected=False)
    assert content is not None and content.decoder == "fitparse"


def test_local_timestamp_min_marker_is_left_to_fitparse() -> None:
    activity_def = definition(0, 34, [(253, 4, UINT32), (5, 4, UINT32), (1, 2, UINT16)])
    data = fit_file(file_id(), activity_def, message(0, "IIH", TS, 0x10000000, 1))
    assert assert_agrees(data, fast_expected=False) is None  # fitparse cannot date its own 'min'


def test_activity_local_timestamp_and_invalid_values() -> None:
    activity_def = definition(0, 34, [(253, 4, UINT32), (5, 4, UINT32), (1, 2, UINT16)])
    lap_def = definition(
        1,
        19,
        [(253, 4, UINT32), (15, 1, UINT8), (23, 1, ENUM), (24, 1, ENUM), (13, 2, UINT16), (110, 4, UINT32)],
    )
    data = fit_file(
        file_id(),
        lap_def,
        message(1, "IBBBHI", TS, 0xFF, 3, 200, 0xFFFF, 2500),  # lap_trigger 200: no name, kept as int
        message(1, "IBBBHI", TS, 150, 0xFF, 1, 2400, 0xFFFFFFFF),
        activity_def,
        message(0, "IIH", TS, TS + 7200, 0xFFFF),
    )
    content = assert_agrees(data)
    assert content is not None
    assert content.laps[0] == {"timestamp": content.laps[0]["timestamp"], "intensity": "cooldown",
                               "lap_trigger": 200, "enhanced_avg_speed": 2.5}  # fmt: skip
    assert content.laps[1]["enhanced_avg_speed"] == 2.4 and "intensity" not in content.laps[1]
    assert set(content.activity) == {"timestamp", "local_timestamp"}


def test_twelve_byte_header_and_zero_header_crc_chain() -> None:
    record_def = definition(0, 20, [(253, 4, UINT32), (3, 1, UINT8)])
    first = fit_file(file_id(), record_def, message(0, "IB", TS, 100), header_size=12)
    second = fit_file(file_id(product=2), record_def, message(0, "IB", TS + 1, 101), header_crc=False)
    content = assert_agrees(first + second)
    assert content is not None and content.file_id["garmin_product"] == "hrm1"
    assert content.records.heart_rate == [100.0, 101.0]


def test_refusals_give_fitparse_answer() -> None:
    record_def = definition(0, 20, [(253, 4, UINT32), (3, 1, UINT8)])
    good = fit_file(file_id(), record_def, message(0, "IB", TS, 100))
    misfit = fit_file(definition(0, 20, [(6, 3, UINT16)]), b"\x00" + bytes(3))
    odd_arch = bytearray(fit_file(file_id(), record_def, message(0, "IB", TS, 100)))
    odd_arch[14 + 2] = 2  # fitparse reads any non-zero architecture as big endian
    odd_arch[-2:] = struct.pack("<H", crc16(bytes(odd_arch[:-2])))
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    for data in (misfit, bad_crc, good[:-5], good + b"\x00", b"", b"not a fit file at all"):
        assert assert_agrees(data, fast_expected=False) is None
    content = assert_agrees(bytes(odd_arch), fast_expected=False)
    assert content is not None and content.decoder == "fitparse"


# --- fuzz --------------------------------------------------------------------------------------

FUZZ_CASES = 1200
FUZZ_SOURCES = [path for path in FIXTURES if path.stat().st_size <= 10_000]
CASE_SECONDS = 10.0  # a generous bound: one case is a few milliseconds


def fix_crcs(data: bytearray) -> None:
    """Re-seal header and file CRCs after a mutation, so the decoders get past the checksum."""
    pos = 0
    while pos + 12 <= len(data):
        size = data[pos]
        if size not in (12, 14) or data[pos + 8 : pos + 12] != b".FIT":
            return
        end = pos + size + int.from_bytes(data[pos + 4 : pos + 8], "little")
        if end + 2 > len(data):
            return
        if size == 14:
            data[pos + 12 : pos + 14] = struct.pack("<H", crc16(bytes(data[pos : pos + 12])))
        data[end : end + 2] = struct.pack("<H", crc16(bytes(data[pos:end])))
        pos = end + 2


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Mostly value changes (which keep the structure and reach the value code), some structural."""
    out = bytearray(data)
    structural = False
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.choices(range(7), weights=(4, 4, 4, 1, 1, 1, 1))[0]
        structural = structural or kind >= 3
        at = rng.randrange(len(out)) if out else 0
        if kind == 0 and out:  # flip a bit
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:  # any byte value
            out[at] = rng.randrange(256)
        elif kind == 2 and out:  # boundary values that hit invalid markers, signs and header bits
            out[at] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x10, 0x40, 0x20, 0xC0))
        elif kind == 3:  # insert
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif kind == 4 and out:  # delete
            del out[at : at + rng.randrange(1, 5)]
        elif kind == 5 and out:  # truncate
            del out[rng.randrange(len(out)) :]
        elif kind == 6 and len(out) > 8:  # duplicate a slice
            start = rng.randrange(len(out) - 4)
            out[at:at] = out[start : start + rng.randrange(1, 24)]
    if structural and len(out) >= 16 and out[0] in (12, 14) and rng.random() < 0.5:
        # keep the (first) file's data size in step, so decoding goes on past the change
        out[4:8] = struct.pack("<I", len(out) - out[0] - 2)
    if rng.random() < 0.9:
        fix_crcs(out)
    return bytes(out)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging (SIGALRM, where the platform has it)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"a fuzz case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fuzz_sources() -> list[bytes]:
    built = [
        fit_file(
            file_id(),
            developer_preamble(b"Power"),
            definition(0, 20, [(253, 4, UINT32), (3, 1, UINT8), (8, 3, BYTE)], dev=[(7, 2, 0)], big=True),
            *[message(0, "IB3sH", TS + i, 150, bytes([i, 0x10, i]), 300, big=True) for i in range(4)],
            definition(1, 20, [(3, 1, UINT8), (6, 2, UINT16), (73, 4, UINT32)]),
            *[message(1, "BHI", 140, 3000, 3100, time_offset=i) for i in range(4)],
            session(),
            definition(5, 34, [(253, 4, UINT32), (5, 4, UINT32), (1, 2, UINT16)]),
            message(5, "IIH", TS, TS + 3600, 1),
        )
    ]
    # The openings of the larger fixtures bring their variety (developer fields, arrays, both
    # speed fields...) at the cost of a small file.
    openings = [first_messages(path.read_bytes(), 6_000) for path in FIXTURES if path.stat().st_size > 10_000]
    return [path.read_bytes() for path in FUZZ_SOURCES] + built + [data for data in openings if data]


def first_messages(data: bytes, limit: int) -> bytes | None:
    """The whole messages of the first file within ``limit`` bytes, resealed as a FIT file."""
    header_size = data[0]
    pos = header_size
    sizes: dict[int, int] = {}
    while pos < len(data) - 2:
        header = data[pos]
        if header & 0xC0 == 0x40:  # definition
            count = data[pos + 5]
            fields = data[pos + 6 : pos + 6 + 3 * count]
            length = 6 + 3 * count
            size = sum(fields[1::3])
            if header & 0x20:
                dev_count = data[pos + length]
                size += sum(data[pos + length + 1 : pos + length + 1 + 3 * dev_count][1::3])
                length += 1 + 3 * dev_count
            sizes[header & 0x0F] = size
        else:
            local = (header >> 5) & 0x03 if header & 0x80 else header & 0x0F
            if local not in sizes:
                return None
            length = 1 + sizes[local]
        if pos + length > limit:
            break
        pos += length
    return fit_file(data[header_size:pos])


@pytest.mark.slow
def test_mutated_files_never_crash_hang_or_disagree() -> None:
    sources = fuzz_sources()
    assert len(sources) >= 8
    rng = random.Random(20240504)
    outcomes = {"fast": 0, "fitparse": 0, "error": 0}
    started = time.perf_counter()
    for case in range(FUZZ_CASES):
        data = mutate(rng.choice(sources), rng)
        with deadline(CASE_SECONDS):
            try:
                content = read_fit(data)
            except FitReadError:
                outcomes["error"] += 1
                continue
        outcomes[content.decoder] += 1
        if content.decoder == "fast":  # whatever the fast path accepts, fitparse reads the same
            expected = reference(data)
            if isinstance(expected, FitReadError) and MISALIGNED in str(expected):
                continue
            assert not isinstance(expected, FitReadError), f"case {case}: fitparse rejects what fast accepted"
            assert snapshot(content) == snapshot(expected), f"case {case}: values differ"
    # The mutator must reach the value code, not only the refusals.
    assert outcomes["fast"] > FUZZ_CASES // 5 and outcomes["error"] > FUZZ_CASES // 5, outcomes
    assert outcomes["fitparse"] > 0, outcomes
    assert time.perf_counter() - started < FUZZ_CASES * CASE_SECONDS
