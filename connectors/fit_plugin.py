"""The folder connector's contribution: its settings, its watched inbox, and where its code lives.

Cheap to import (read with the configuration); the connector itself is in connectors/fit.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runstrong_sync.sources import ConnectorPlugin


class FitSettings(BaseModel):
    """``[sources.fit]``"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    inbox: Path | None = None  # folder of FIT/GPX/TCX files and exports; watched by `watch`
    after_import: Literal["archive", "leave"] = "archive"
    archive_dir: Path | None = None  # default: <inbox>/archive
    rejected_dir: Path | None = None  # default: <inbox>/rejected
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0  # untouched this long: complete


def _enabled(settings: Any) -> bool:
    return isinstance(settings, FitSettings) and settings.enabled and settings.inbox is not None


plugin = ConnectorPlugin(
    name="fit",
    settings=FitSettings,
    connector="runstrong_sync.connectors.fit:FitFolderConnector",
    enabled=_enabled,
    env={"RUNSTRONG_FIT_INBOX": "inbox"},
    watch="runstrong_sync.connectors.fit:watch_targets",
    prepare={"import": "runstrong_sync.connectors.workers:prepare_import"},  # workers load meanwhile
)
