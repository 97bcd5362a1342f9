"""The Garmin Connect connector's contribution: its settings, its commands.

Cheap to import (read with the configuration); the garminconnect library (the `garmin` extra) is
loaded only when Garmin Connect is used.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from runstrong_sync.sources import ConnectorPlugin


class GarminSettings(BaseModel):
    """``[sources.garmin]``"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    lookback_days: Annotated[int, Field(ge=0, le=365)] = 7
    push_workouts: bool = False  # write planned sessions to Garmin Connect as workouts


plugin = ConnectorPlugin(
    name="garmin",
    settings=GarminSettings,
    connector="runstrong_sync.connectors.garmin:GarminConnector",
    cli="runstrong_sync.connectors.garmin_cli:garmin",
    cli_help="Sign in to Garmin Connect (auth), see the connection (status), or remove it (disconnect).",
    commands={
        "workouts": (
            "runstrong_sync.connectors.garmin_cli:workouts",
            "Write the coming strength sessions as FIT workout files, for a watch without Garmin Connect.",
        )
    },
)
