"""Reading what real exports hold: every sport word, typeless tracks, cut-off files, altitude."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import FIT, run_cli

from connectors.fit import normalise_sport
from connectors.formats import read_activity_file

ZONE = ZoneInfo("Europe/Berlin")
GPX = (FIT / "gpx_tcx" / "garmin_example.gpx").read_bytes()
CUT = FIT / "corrupt" / "run_with_coordinates_truncated60.fit"

TYPE_WORDS = {
    # Garmin Connect
    "running": "run",
    "street_running": "run",
    "track_running": "run",
    "trail_running": "trail_run",
    "treadmill_running": "treadmill_run",
    "indoor_running": "treadmill_run",
    "ultra_run": "run",
    "road_biking": "ride",
    "mountain_biking": "ride",
    "indoor_cycling": "ride",
    "hiking": "hike",
    "walking": "walk",
    "lap_swimming": "swim",
    # Movescount and Sports Tracker
    "Running": "run",
    "Trail running": "trail_run",
    "Jogging": "run",
    "Cycling": "ride",
    "Treadmill": "treadmill_run",
    # Strava exports: words, and its old numbers
    "run": "run",
    "9": "run",
    "1": "ride",
    "Ride": "ride",
    "VirtualRun": "virtual_run",
}


def _gpx_with_type(word: str | None) -> bytes:
    replacement = f"<type>{word}</type>".encode() if word is not None else b""
    return GPX.replace(b"<type>running</type>", replacement)


@pytest.mark.parametrize(("word", "sport"), sorted(TYPE_WORDS.items()))
def test_every_gpx_type_word_maps_to_our_sport(word: str, sport: str) -> None:
    activity = read_activity_file(_gpx_with_type(word), "a.gpx", "a.gpx", ZONE).activities[0]
    assert activity.sport == sport
    assert "sport_guess" not in activity.raw


def test_a_typeless_gpx_run_is_judged_from_its_speed_and_says_so() -> None:
    activity = read_activity_file(_gpx_with_type(None), "a.gpx", "a.gpx", ZONE).activities[0]
    assert activity.sport == "run" and activity.is_run
    assert "judged from its speed" in str(activity.raw["sport_guess"])
    unknown = read_activity_file(_gpx_with_type("zorbing"), "a.gpx", "a.gpx", ZONE).activities[0]
    assert unknown.sport == "run" and "sport 'zorbing' unknown" in str(unknown.raw["sport_guess"])


def test_a_typeless_gpx_ride_is_not_a_run() -> None:
    # The same track in a quarter of the time: 12 m/s is no runner's speed.
    text = _gpx_with_type(None).decode()
    import re

    times = re.findall(r"<time>([^<]+)</time>", text)
    assert len(times) > 10
    from datetime import datetime

    first = datetime.fromisoformat(times[1].replace("Z", "+00:00"))
    for stamp in set(times[1:]):
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        quick = first + (when - first) / 4
        text = text.replace(
            f"<time>{stamp}</time>", f"<time>{quick.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</time>"
        )
    activity = read_activity_file(text.encode(), "a.gpx", "a.gpx", ZONE).activities[0]
    assert activity.sport == "ride", activity.raw["sport_guess"]


def test_unknown_fit_sport_numbers_get_a_name() -> None:
    assert normalise_sport(53, None) == "diving"
    assert normalise_sport(67, 0) == "meditation"
    assert normalise_sport(200, None) == "other"
    assert normalise_sport("running", "trail") == "trail_run"


def test_a_cut_off_fit_run_is_imported_from_its_records_and_marked_incomplete(
    env: Path, tmp_path: Path
) -> None:
    activity = read_activity_file(CUT.read_bytes(), CUT.name, str(CUT), ZONE).activities[0]
    assert activity.raw["incomplete"].startswith("the file ends early")
    assert activity.sport == "run" and activity.elapsed_s > 15 * 60 and (activity.distance_m or 0) > 3000
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(CUT, folder / CUT.name)
    result = run_cli("import", str(folder))
    assert result.exit_code == 0, result.output
    (item,) = json.loads(run_cli("activities", "--json").output)
    assert item["sport"] == "run" and item["label"] in ("easy", "hard")
    assert "incomplete_file" in item["reason_codes"]
    assert not (folder / "rejected").exists()
