"""The synthetic runs get the labels they were written to have."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from runstrong_sync.connectors.fitmap import activities_from_fit
from runstrong_sync.connectors.fitreader import read_fit_fitparse

from runstrong_sync.core.classify import classify
from runstrong_sync.core.domain import Label, Zones, ZoneSource, ZoneValue
from tests.support import FIT

ZONES = Zones(
    max_hr=ZoneValue(190, ZoneSource.CONFIG, "test"),
    threshold_hr=ZoneValue(170, ZoneSource.CONFIG, "test"),
    threshold_speed_mps=ZoneValue(4.0, ZoneSource.CONFIG, "test"),
)


@pytest.mark.parametrize(
    ("name", "label"),
    [("easy", Label.EASY), ("tempo", Label.HARD), ("intervals", Label.HARD), ("long", Label.LONG)],
)
def test_synthetic_runs(name: str, label: Label) -> None:
    data = (FIT / "synthetic" / f"synthetic_{name}.fit").read_bytes()
    (activity,) = activities_from_fit(read_fit_fitparse(data), name, "x", ZoneInfo("UTC"))
    result = classify(activity, ZONES)
    assert result.label is label, result
    assert result.confidence >= 0.5
    assert result.reasons and result.reasons[0].text.startswith(label.value)


def test_cross_training_is_other() -> None:
    data = (FIT / "other_sports" / "2016-04-09-13-19-18.fit").read_bytes()
    (activity,) = activities_from_fit(read_fit_fitparse(data), "ride", "x", ZoneInfo("UTC"))
    assert classify(activity, ZONES).label is Label.OTHER
