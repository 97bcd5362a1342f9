"""Garmin Connect and Strava export archives, built from the real fixture files."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

from tests.support import FIT

STRAVA_COLUMNS = [
    "Activity ID",
    "Activity Date",
    "Activity Name",
    "Activity Type",
    "Activity Description",
    "Elapsed Time",
    "Distance",
    "Max Heart Rate",
    "Relative Effort",
    "Commute",
    "Activity Private Note",
    "Activity Gear",
    "Filename",
    "Athlete Weight",
    "Bike Weight",
    "Elapsed Time",
    "Moving Time",
    "Distance",
]


def strava_export(target: Path) -> Path:
    """A Strava bulk export: activities.csv names the files in activities/ (.fit.gz, .gpx, .tcx.gz)."""
    rows = [
        ("4001", "Dec 10, 2020, 6:27:05 AM", "Morning tempo by the river", "Run", "activities/4001.fit.gz"),
        ("4002", "Nov 16, 2019, 8:58:30 AM", "Mannheim loop", "Run", "activities/4002.gpx"),
        ("4003", "Dec 26, 2012, 9:29:53 PM", "Christmas jog", "Run", "activities/4003.tcx.gz"),
        ("4004", "Aug 15, 2015, 2:45:08 PM", "Evening run", "Run", "activities/4004.fit.gz"),
        ("4005", "Apr 9, 2016, 11:19:18 AM", "Long ride", "Ride", ""),  # manual entry: no file
    ]
    header = ",".join(f'"{c}"' if " " in c else c for c in STRAVA_COLUMNS)
    lines = [header]
    for activity_id, when, name, kind, filename in rows:
        values = [
            activity_id,
            f'"{when}"',
            name,
            kind,
            "",
            "1953",
            "6.00",
            "170",
            "",
            "false",
            "",
            "",
            filename,
        ]
        values += ["", "", "1953.0", "1937.0", "6001.9"]
        lines.append(",".join(values))
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities.csv", "\n".join(lines) + "\n")
        archive.writestr("profile.csv", "Athlete ID,Email Address\n1,runner@example.org\n")
        archive.writestr(
            "activities/4001.fit.gz", (FIT / "strava_export/run_with_coordinates.fit.gz").read_bytes()
        )
        archive.writestr("activities/4002.gpx", (FIT / "gpx_tcx/garmin_example.gpx").read_bytes())
        archive.writestr(
            "activities/4003.tcx.gz", gzip.compress((FIT / "gpx_tcx/test.tcx").read_bytes(), mtime=0)
        )
        archive.writestr(
            "activities/4004.fit.gz",
            gzip.compress((FIT / "running/activity-small-fenix2-run.fit").read_bytes(), mtime=0),
        )
        archive.writestr("media/photo.jpg", b"\xff\xd8\xff\xe0 not really a photo")
    return target


def garmin_export(target: Path, extra_inner: dict[str, bytes] | None = None) -> Path:
    """Garmin Connect's data export: uploaded files sit in zips in DI_CONNECT/DI-Connect-Uploaded-Files."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as uploaded:
        uploaded.writestr(
            "runner@example.org_5501.fit", (FIT / "running/2019-09-14-17-22-05.fit").read_bytes()
        )
        uploaded.writestr(
            "runner@example.org_5502.fit", (FIT / "synthetic/synthetic_intervals.fit").read_bytes()
        )
        uploaded.writestr(
            "runner@example.org_5503.fit", (FIT / "other_sports/2016-04-09-13-19-18.fit").read_bytes()
        )
        for name, data in (extra_inner or {}).items():
            uploaded.writestr(name, data)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("DI_CONNECT/DI-Connect-Fitness/runner_0_summarizedActivities.json", "[]")
        archive.writestr("DI_CONNECT/DI-Connect-User/user_profile.json", "{}")
        archive.writestr("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip", inner.getvalue())
    return target
