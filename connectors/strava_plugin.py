"""The Strava connector's contribution: its settings, its commands, its webhook routes.

Cheap to import (read with the configuration); stravalib is loaded only when Strava is used.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from runstrong_sync.sources import ConnectorPlugin


class StravaSettings(BaseModel):
    """``[sources.strava]``"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    client_id: str | None = None  # or RUNSTRONG_STRAVA_CLIENT_ID
    client_secret: str | None = None  # or RUNSTRONG_STRAVA_CLIENT_SECRET
    api_base_url: str = "https://www.strava.com"
    lookback_days: Annotated[int, Field(ge=0, le=365)] = 14
    streams: Literal["auto", "always", "never"] = "auto"
    stream_budget: Annotated[int, Field(ge=0)] = 20  # stream requests per run
    rate_limit_reserve: Annotated[int, Field(ge=0)] = 10  # requests left untouched per window
    webhook_verify_token: str | None = None  # or RUNSTRONG_STRAVA_WEBHOOK_VERIFY_TOKEN


plugin = ConnectorPlugin(
    name="strava",
    settings=StravaSettings,
    connector="runstrong_sync.connectors.strava:StravaConnector",
    env={
        "RUNSTRONG_STRAVA_CLIENT_ID": "client_id",
        "RUNSTRONG_STRAVA_CLIENT_SECRET": "client_secret",
        "RUNSTRONG_STRAVA_WEBHOOK_VERIFY_TOKEN": "webhook_verify_token",
        "RUNSTRONG_STRAVA_API_BASE_URL": "api_base_url",
    },
    cli="runstrong_sync.connectors.strava_cli:strava",
    cli_help="Connect Strava (auth), see the connection (status), or remove it and its data.",
    routes="runstrong_sync.connectors.strava_webhook:routes",
    shared=frozenset(StravaSettings.model_fields) - {"enabled"},  # the app is shared, the account is not
)
