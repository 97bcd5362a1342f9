"""GPX and TCX read into activities; the same run from another format or from Strava is stored once."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import fitparse
import pytest
from runstrong_sync.connectors.formats import format_of, read_activity_file

from runstrong_sync.config import Config
from runstrong_sync.errors import FitReadError
from runstrong_sync.pipeline import import_paths, ingest
from runstrong_sync.sources import Imported
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from tests.support import FIT

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_format_from_name() -> None:
    assert [
        format_of(n) for n in ("a.FIT", "b.fit.gz", "c.gpx", "d.GPX.GZ", "e.tcx.gz", "f.zip", "g.csv")
    ] == [
        "fit",
        "fit",
        "gpx",
        "gpx",
        "tcx",
        "zip",
        None,
    ]


def test_gpx_with_heart_rate() -> None:
    found = read_activity_file((FIT / "gpx_tcx/garmin_example.gpx").read_bytes(), "r.gpx", "r.gpx", ZONE)
    (activity,) = found.activities
    assert (activity.source, activity.sport, activity.name) == ("gpx", "run", "Mannheim Running")
    assert activity.start_utc == datetime(2019, 11, 16, 8, 58, 30, tzinfo=UTC)
    assert activity.elapsed_s == 2304 and activity.has_gps
    assert activity.distance_m is not None and 5000 < activity.distance_m < 5600
    assert activity.avg_hr is not None and 100 < activity.avg_hr < 200
    assert activity.derived is not None and activity.derived.hr_valid_s > 1800
    assert activity.utc_offset_s == 3600  # no offset in GPX: the athlete's zone decides
    assert found.records == 602


def test_tcx_laps_and_gzip_give_the_same_activity() -> None:
    data = (FIT / "gpx_tcx/test.tcx").read_bytes()
    plain = read_activity_file(data, "t.tcx", "t.tcx", ZONE).activities[0]
    packed = read_activity_file(gzip.compress(data), "t.tcx.gz", "t.tcx", ZONE).activities[0]
    assert plain == packed
    assert (plain.source, plain.sport, plain.name) == ("tcx", "run", "Aerobics")
    assert len(plain.laps) == 3 and plain.laps[0].distance_m == pytest.approx(1609.344, abs=0.01)
    assert plain.max_hr == 189 and plain.distance_m == pytest.approx(4686.31, abs=0.01)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("a.tcx", b"<?xml version='1.0'?><gpx></gpx>", "not TCX"),
        ("a.tcx", b"<TrainingCenterDatabase><Activities>", "not a readable TCX"),
        ("a.gpx", b"<gpx><trk><trkseg></trkseg></trk></gpx>", "no track with timed points"),
        ("a.gpx", b"<gpx>\xff\xfe</gpx>", "not UTF-8"),
        ("a.tcx.gz", gzip.compress(b"x" * 10)[:-4], "gzip data is damaged"),
        ("a.csv", b"a,b", "not an activity file"),
    ],
)
def test_bad_xml_files_have_reasons(name: str, data: bytes, words: str) -> None:
    with pytest.raises(FitReadError, match=words):
        read_activity_file(data, name, name, ZONE)


def gpx_from_fit(fit_path: Path) -> bytes:
    """The same run exported as GPX (track points with heart rate), as Garmin Connect would."""
    points = []
    semicircle = 180 / 2**31
    for record in fitparse.FitFile(str(fit_path)).get_messages("record"):
        values = record.get_values()
        if values.get("position_lat") is None:
            continue
        when = values["timestamp"].replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
        hr = values.get("heart_rate")
        points.append(
            f'<trkpt lat="{values["position_lat"] * semicircle:.7f}" '
            f'lon="{values["position_long"] * semicircle:.7f}"><time>{when}</time>'
            + (f"<extensions><ns3:TrackPointExtension><ns3:hr>{hr}</ns3:hr>" if hr else "<extensions><x>")
            + ("</ns3:TrackPointExtension></extensions></trkpt>" if hr else "</x></extensions></trkpt>")
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gpx creator="test" version="1.1" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:ns3="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        "<trk><name>Same run</name><type>running</type><trkseg>" + "".join(points) + "</trkseg></trk></gpx>"
    ).encode()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with database.transaction() as session:
        repo.ensure_athlete(session, "default", "Runner", NOW)
    return database


def _rows(db: Database) -> list[tuple[str, str | None, str | None]]:
    with db.transaction() as session:
        return [(r.source, r.name, r.source_ref) for r in repo.activity_rows(session, 1)]


@pytest.mark.parametrize("fit_first", [True, False])
def test_the_same_run_as_fit_and_gpx_is_stored_once_as_fit(
    db: Database, tmp_path: Path, fit_first: bool
) -> None:
    config = Config.model_validate({"data_dir": str(tmp_path / "data")})
    fit = tmp_path / "run.fit"
    fit.write_bytes((FIT / "running/activity-small-fenix2-run.fit").read_bytes())
    gpx = tmp_path / "run.gpx"
    gpx.write_bytes(gpx_from_fit(fit))
    for path in [fit, gpx] if fit_first else [gpx, fit]:
        import_paths(db, 1, config, [path], NOW)
    ((source, name, ref),) = _rows(db)
    assert source == "fit" and ref == str(fit)
    assert name == "Same run"  # the GPX's title stays when the FIT (which has none) wins


def _strava_copy(fit: Path) -> Imported:
    """The run as Strava's API reports it: its own id, rounded numbers, a name and a race tag."""
    activity = read_activity_file(fit.read_bytes(), fit.name, str(fit), ZONE).activities[0]
    return Imported(
        replace(
            activity,
            source="strava",
            source_ref="4242",
            external_id="4242",
            name="Thursday tempo",
            start_utc=activity.start_utc + timedelta(seconds=1),
            elapsed_s=round(activity.elapsed_s),
            distance_m=round(activity.distance_m or 0, -1),
            workout_type=1,
            laps=(),
            derived=None,
            raw={"id": 4242},
        )
    )


def test_strava_then_the_file_keeps_one_activity_with_the_file_detail(db: Database, tmp_path: Path) -> None:
    config = Config.model_validate({"data_dir": str(tmp_path / "data")})
    fit = tmp_path / "run.fit"
    fit.write_bytes((FIT / "running/run_with_coordinates.fit").read_bytes())
    ingest(db, 1, "strava", [_strava_copy(fit)], NOW)
    report = import_paths(db, 1, config, [fit], NOW)
    assert (report.created, report.updated) == (0, 1)
    with db.transaction() as session:
        (row,) = repo.activity_rows(session, 1)
        assert (row.source, row.name, row.workout_type) == ("fit", "Thursday tempo", 1)
        assert row.derived_json is not None and row.raw_json["also_from"]["strava"] == {"id": 4242}
    # Strava again later changes nothing: the file stays the record.
    again = ingest(db, 1, "strava", [_strava_copy(fit)], NOW)
    assert again.duplicates == 1 and _rows(db)[0][0] == "fit"


def test_an_export_index_names_the_activity_and_says_what_a_typeless_file_was() -> None:
    from runstrong_sync.connectors.formats import ExportHints

    data = (FIT / "gpx_tcx/garmin_example.gpx").read_bytes().replace(b"<type>running</type>", b"")
    plain = read_activity_file(data, "a.gpx", "a.gpx", ZONE).activities[0]
    assert plain.sport == "run"  # judged from its speed, and said so
    assert str(plain.raw["sport_guess"]).startswith("run (no sport given: judged from its speed")
    hints = ExportHints(name="Dog walk", sport="Walk", export_id="77")
    hinted = read_activity_file(data, "a.gpx", "a.gpx", ZONE, hints).activities[0]
    assert (hinted.sport, hinted.name) == ("walk", "Dog walk")
    assert hinted.raw["strava_export"] == {"id": "77", "name": "Dog walk", "type": "Walk"}
    # A file that knows its sport keeps it: the index only fills gaps.
    fit = read_activity_file(
        (FIT / "running/run_with_coordinates.fit").read_bytes(), "r.fit", "r", ZONE, hints
    )
    assert fit.activities[0].sport == "run" and fit.activities[0].name == "Dog walk"
