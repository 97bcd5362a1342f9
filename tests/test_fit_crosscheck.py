"""Every FIT file that fitparse or fitdecode reads imports, with the same start, duration and
distance per session (fitdecode: an independent reader, MIT). A file whose checksum is wrong is
damaged for both: fitdecode checks it here as we do (it would only warn by default)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from runstrong_sync.connectors.formats import read_activity_file

from tests.support import FIT, FIXTURES

fitdecode = pytest.importorskip("fitdecode")

FILES = sorted(
    p
    for p in [
        *FIT.rglob("*.fit"),
        *(FIXTURES / "demo").glob("*.fit"),
        *(FIXTURES / "labelled_edge").glob("*.fit"),
    ]
    if p.is_file()
)


def _sessions_by_fitdecode(path: Path) -> list[dict[str, Any]] | None:
    """The sessions fitdecode reads, or None when it cannot read the file at all."""
    sessions: list[dict[str, Any]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fitdecode.FitReader(
                str(path), check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.WARN
            ) as reader:
                for frame in reader:
                    if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "session":
                        sessions.append({f.name: f.value for f in frame.fields})
    except Exception:  # any refusal by the reference: not a file it reads
        return None
    return sessions


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime) or value.year < 1995:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fitdecode_and_our_import_agree(path: Path) -> None:
    sessions = _sessions_by_fitdecode(path)
    if sessions is None:
        pytest.skip("fitdecode does not read it either")
    sessions = [s for s in sessions if s.get("sport") != "transition" and _utc(s.get("start_time"))]
    if not sessions:
        pytest.skip("no session with a start time: not an activity fitdecode can date")
    activities = read_activity_file(path.read_bytes(), path.name, str(path), ZoneInfo("UTC")).activities
    assert len(activities) == len(sessions), path.name
    for ours, theirs in zip(activities, sessions, strict=True):
        assert ours.start_utc == _utc(theirs["start_time"]), path.name
        elapsed = theirs.get("total_elapsed_time")
        if elapsed is not None:
            assert ours.elapsed_s == pytest.approx(float(elapsed), abs=1.0), path.name
        distance = theirs.get("total_distance")
        if distance is not None:
            assert ours.distance_m == pytest.approx(float(distance), abs=1.0), path.name


def test_the_coros_file_with_misaligned_fields_is_read_by_the_fast_decoder() -> None:
    path = FIT / "other_sports" / "coros-pace-2-cycling-misaligned-fields.fit"
    result = read_activity_file(path.read_bytes(), path.name, str(path), ZoneInfo("UTC"))
    (ride,) = result.activities
    assert result.decoder == "fast" and ride.sport == "ride"
    assert (ride.elapsed_s, ride.distance_m) == (12719.0, pytest.approx(32145.76))
