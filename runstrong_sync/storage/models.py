"""Typed SQLAlchemy 2.0 models. Raw payloads sit beside the columns that are queried."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Bumped when the shape of raw_json / derived_json changes, so old rows can be told apart.
PAYLOAD_SCHEMA_VERSION = 1


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Athlete(Base):
    __tablename__ = "athletes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    feed_token: Mapped[str] = mapped_column(String(128), unique=True)
    settings_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActivityRow(Base):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_athlete_start", "athlete_id", "start_utc"),
        # the time-zone detection's newest activities per athlete, read without the wide rows
        Index("ix_activities_zone", "athlete_id", "start_utc", "time_zone", "file_offset_s"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(String(200))
    sport: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(Text)
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    utc_offset_s: Mapped[int] = mapped_column(Integer)
    elapsed_s: Mapped[float] = mapped_column(Float)
    moving_s: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    avg_hr: Mapped[float | None] = mapped_column(Float)
    max_hr: Mapped[float | None] = mapped_column(Float)
    avg_speed_mps: Mapped[float | None] = mapped_column(Float)
    workout_type: Mapped[int | None] = mapped_column(Integer)
    training_effect: Mapped[float | None] = mapped_column(Float)
    anaerobic_training_effect: Mapped[float | None] = mapped_column(Float)
    trainer: Mapped[bool] = mapped_column(Boolean, default=False)
    has_gps: Mapped[bool] = mapped_column(Boolean, default=False)
    laps_json: Mapped[list[Any]] = mapped_column(JSON, default=list)
    derived_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    raw_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the time-zone detection reads, taken from raw_json when it is stored (tzdetect.zone_columns)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)  # Strava's zone for it
    file_offset_s: Mapped[int | None] = mapped_column(Integer, default=None)  # UTC offset its file wrote
    schema_version: Mapped[int] = mapped_column(Integer, default=PAYLOAD_SCHEMA_VERSION)
    label: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    reasons_json: Mapped[list[Any]] = mapped_column(JSON, default=list)
    label_override: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the source's access was revoked: hidden everywhere, restorable, purged after 30 days.
    tombstoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    sources: Mapped[list[ActivitySource]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", passive_deletes=True
    )


class ActivitySource(Base):
    """Every identity under which an activity is known: a Strava id, a file's fingerprint..."""

    __tablename__ = "activity_sources"
    __table_args__ = (
        UniqueConstraint("athlete_id", "source", "external_id", name="uq_activity_sources_identity"),
        Index("ix_activity_sources_fingerprint", "athlete_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    source_ref: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    activity: Mapped[ActivityRow] = relationship(back_populates="sources")


class SessionRow(Base):
    __tablename__ = "strength_sessions"
    __table_args__ = (Index("ix_sessions_athlete_start", "athlete_id", "start_utc"),)

    uid: Mapped[str] = mapped_column(String(200), primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64))
    duration_min: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    focus_json: Mapped[list[Any]] = mapped_column(JSON)
    exercises_json: Mapped[list[Any]] = mapped_column(JSON)
    why: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class StateRow(Base):
    """Small per-athlete state: connector cursors, tokens, the last plan's notes."""

    __tablename__ = "state"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RejectionRow(Base):
    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    set_aside_to: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SyncRunRow(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_athlete_source", "athlete_id", "source", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(32))
    summary_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InstallRow(Base):
    """Facts about this install as a whole, e.g. the random part that makes its feed UIDs unique."""

    __tablename__ = "install"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunEventRow(Base):
    """A run as last published in the runs feed: its UID, what it said, SEQUENCE and the change time."""

    __tablename__ = "run_events"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: the end of the run


class DeletedActivityRow(Base):
    """An identity of an activity the runner deleted: the same source does not bring it back."""

    __tablename__ = "deleted_activities"
    __table_args__ = (
        Index("ix_deleted_activities_identity", "athlete_id", "source", "external_id"),
        Index("ix_deleted_activities_fingerprint", "athlete_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GarminWorkoutRow(Base):
    """A strength session written to Garmin Connect as a workout: only these are ever changed there."""

    __tablename__ = "garmin_workouts"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True)
    session_uid: Mapped[str] = mapped_column(String(200), primary_key=True)
    workout_id: Mapped[str | None] = mapped_column(String(40))  # None: being created (see garmin_push)
    schedule_id: Mapped[str | None] = mapped_column(String(40))
    scheduled_date: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD in the athlete's zone
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InstallSecret(Base):
    """Secrets of the install as a whole (the Strava webhook's callback path)."""

    __tablename__ = "install_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


UNLABELLED = "label IS NULL"
RUNNING = "outcome = 'running'"


def declare_partial_indexes() -> None:
    """Add the partial indexes to the tables' metadata: what relabelling must label, and runs left
    unfinished by a killed process, each found without reading the rest. Declared only where the
    schema is managed (migrations/env.py): their where-clauses make SQLAlchemy load the dialect of
    every database named, PostgreSQL's too on SQLite, at a cost to every command's start-up."""
    declared = {i.name for table in Base.metadata.tables.values() for i in table.indexes}
    if "ix_activities_unlabelled" not in declared:
        Index(
            "ix_activities_unlabelled",
            ActivityRow.athlete_id,
            ActivityRow.start_utc,
            sqlite_where=text(UNLABELLED),
            postgresql_where=text(UNLABELLED),
        )
    if "ix_sync_runs_running" not in declared:
        Index(
            "ix_sync_runs_running",
            SyncRunRow.athlete_id,
            sqlite_where=text(RUNNING),
            postgresql_where=text(RUNNING),
        )
