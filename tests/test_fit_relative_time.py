"""Old watches write timestamps as seconds since power-on; such runs still import with real dates."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from runstrong_sync.connectors.fitmap import activities_from_fit, anchor_relative_times
from runstrong_sync.connectors.fitreader import read_fit_fitparse

from tests.support import FIT, run_cli

FR70 = [FIT / "running" / "compressed-speed-distance.fit", FIT / "running_edge" / "antfs-dump.63.fit"]


@pytest.mark.parametrize(
    ("path", "start"),
    [
        # activity.local_timestamp 12:21:03 (Berlin, UTC+1 in February) is the end of each run
        (FR70[0], datetime(2012, 2, 13, 10, 16, 16, tzinfo=UTC)),
        (FR70[1], datetime(2012, 2, 13, 10, 23, 51, tzinfo=UTC)),
    ],
)
def test_relative_timestamps_are_anchored_on_the_local_time(path: Path, start: datetime) -> None:
    content = read_fit_fitparse(path.read_bytes())
    assert isinstance(content.records.timestamp[-1], int)
    (activity,) = activities_from_fit(content, str(path), "x", ZoneInfo("Europe/Berlin"))
    assert activity.start_utc == start
    assert activity.utc_offset_s == 3600
    assert activity.derived is not None and activity.derived.moving_s > 50 * 60
    assert activity.derived.hr_valid_s > 50 * 60


def test_absolute_timestamps_are_left_alone() -> None:
    content = read_fit_fitparse((FIT / "running" / "run_with_coordinates.fit").read_bytes())
    assert anchor_relative_times(content, ZoneInfo("UTC")) is content


def test_fr70_runs_import_and_get_labels(env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "fr70"
    folder.mkdir()
    for path in FR70:
        shutil.copy(path, folder / path.name)
    assert run_cli("import", str(folder)).exit_code == 0
    result = run_cli("activities", "--json")
    items = json.loads(result.output)
    assert len(items) == 2
    assert {item["start"][:10] for item in items} == {"2012-02-13"}
    for item in items:
        assert item["label"] in ("easy", "hard", "long")
        assert item["reasons"] and item["confidence"] is not None
    assert next(i for i in items if i["source_ref"].endswith("antfs-dump.63.fit"))["distance_m"] is None
