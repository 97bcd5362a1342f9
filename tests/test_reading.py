"""Reading what real exports hold: every sport word, typeless tracks, cut-off files, altitude."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from runstrong_sync.connectors.fitmap import normalise_sport
from runstrong_sync.connectors.formats import read_activity_file

from tests.support import FIT, run_cli

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


STRAVA_GPX_EXTENSIONS = b"""<extensions><gpxdata:lap><gpxdata:index>1</gpxdata:index></gpxdata:lap>
<gpxx:TrackExtension><gpxx:DisplayColor>Red</gpxx:DisplayColor></gpxx:TrackExtension></extensions>"""


def test_gpx_with_undeclared_prefixes_is_read_by_the_recovering_parse_and_says_so() -> None:
    strict = read_activity_file(GPX, "a.gpx", "a.gpx", ZONE).activities[0]
    assert strict.raw["xml"] == "strict XML parse"
    data = GPX.replace(b"<type>running</type>", b"<type>running</type>" + STRAVA_GPX_EXTENSIONS, 1)
    mended = read_activity_file(data, "a.gpx", "a.gpx", ZONE).activities[0]
    assert str(mended.raw["xml"]).startswith("recovering XML parse: mended undeclared namespace prefixes")
    assert "gpxdata:" in mended.raw["xml"] and "gpxx:" in mended.raw["xml"]
    assert (mended.start_utc, mended.elapsed_s, mended.distance_m) == (
        strict.start_utc,
        strict.elapsed_s,
        strict.distance_m,
    )


@pytest.mark.parametrize("name", ["test.tcx", "garmin_example.gpx"])
def test_whitespace_and_a_bom_before_the_declaration(name: str) -> None:
    data = (FIT / "gpx_tcx" / name).read_bytes()
    clean = read_activity_file(data, name, name, ZONE).activities[0]
    for prefix, fix in (
        (b"\n\n  ", "whitespace before the XML declaration"),
        (b"\xef\xbb\xbf\r\n", "a byte-order mark"),
    ):
        mended = read_activity_file(prefix + data, name, name, ZONE).activities[0]
        assert fix in str(mended.raw["xml"]) and str(mended.raw["xml"]).startswith("recovering XML parse")
        assert (mended.start_utc, mended.elapsed_s, mended.distance_m) == (
            clean.start_utc,
            clean.elapsed_s,
            clean.distance_m,
        )


def test_a_broken_xml_file_names_both_parses() -> None:
    from runstrong_sync.connectors.fitreader import FitReadError

    data = b"  " + GPX.replace(b"</gpx>", b"")
    with pytest.raises(FitReadError, match="even after mending whitespace before the XML declaration"):
        read_activity_file(data, "a.gpx", "a.gpx", ZONE)


def test_activities_before_1990_or_over_two_days_are_set_aside_with_their_reason() -> None:
    from runstrong_sync.connectors.fitreader import FitReadError

    old = GPX.replace(b"<time>2019-11-16", b"<time>1980-11-16")
    with pytest.raises(FitReadError, match="dated 1980-11-16, before 1990"):
        read_activity_file(old, "a.gpx", "a.gpx", ZONE)
    text = GPX.decode()
    last = text.rindex("<time>2019-11-16")
    endless = (text[:last] + "<time>2019-11-20" + text[last + len("<time>2019-11-16") :]).encode()
    with pytest.raises(FitReadError, match=r"lasts 4\.\d days, longer than any one activity"):
        read_activity_file(endless, "a.gpx", "a.gpx", ZONE)


def test_the_cut_off_four_and_a_half_hour_ride_is_imported_from_its_records() -> None:
    path = FIT / "other_sports" / "nick.fit"
    result = read_activity_file(path.read_bytes(), path.name, str(path), ZONE)
    (ride,) = result.activities
    assert result.records == 14_391 and ride.raw["incomplete"].startswith("the file ends early")
    assert ride.elapsed_s == pytest.approx(4 * 3600 + 39 * 60, abs=120)
