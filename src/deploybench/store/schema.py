"""The store's tables as typed SQLAlchemy models; the migrations in `migrations/versions` create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VERSION_TABLE = "deploybench_alembic_version"
"""Alembic's version table, named for deploybench so a shared database can hold other applications' too."""


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class ResultRow(Base):
    """One stored result: the whole record as JSON, plus the columns results are listed and filtered by."""

    __tablename__ = "results"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_key: Mapped[str] = mapped_column(String(64), index=True)
    campaign: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16))
    framework: Mapped[str] = mapped_column(String(100))
    model_sha256: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    schema_version: Mapped[int] = mapped_column(Integer)
    median_us: Mapped[float | None] = mapped_column(Float)
    record_json: Mapped[str] = mapped_column(Text)


class AnalysisRow(Base):
    """One stored analysis of a model (its anatomy, or its layer compliance) as JSON, found by the model's hash."""

    __tablename__ = "analyses"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    model_sha256: Mapped[str] = mapped_column(String(64), index=True)
    model_path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deploybench_version: Mapped[str] = mapped_column(String(64))
    report_json: Mapped[str] = mapped_column(Text)


class FitRow(Base):
    """One thing `predict fit` learned (a calibrated predictor, an efficiency table, measured peaks) as JSON."""

    __tablename__ = "fits"
    __table_args__ = (Index("ix_fits_kind_key", "kind", "key"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deploybench_version: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)


class TokenRow(Base):
    """One API token of the service, by its SHA-256 digest (the secret itself is never stored)."""

    __tablename__ = "tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean)


class DispatchRow(Base):
    """One job sent to a remote target: its state (queued, running, done, failed), attempts and result."""

    __tablename__ = "dispatches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_key: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), index=True)
    campaign: Mapped[str | None] = mapped_column(String(200))
    job_json: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    result_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentRow(Base):
    """One board's agent: its target, when it was last heard from, and what it reported (backends, machine)."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    target: Mapped[str] = mapped_column(String(200))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report_json: Mapped[str] = mapped_column(Text)
