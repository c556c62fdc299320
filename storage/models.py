"""Tables. Alembic (storage/migrations) owns the schema; these models must match it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlmodel import Field, SQLModel

from bot.core.jobs import JobStatus, new_job_id
from storage.columns import EnumString, UTCDateTime, utcnow

# Deterministic constraint names, so migrations can name what they alter or drop.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ImageRole(StrEnum):
    """What an image is to its job."""

    INPUT = "input"
    """An input image, in the order given."""
    MASK = "mask"
    """The mask applied to the first input."""
    OUTPUT = "output"
    """A result image."""


class LedgerKind(StrEnum):
    """What a ledger row records."""

    RESERVE = "reserve"
    """The estimate was reserved before the job was queued."""
    SETTLE = "settle"
    """The job succeeded: its reservation was replaced by its actual cost."""
    REFUND = "refund"
    """The job failed or was cancelled: its reservation was released."""
    LOST = "lost"
    """An attempt that reached the provider died before its answer was kept (its process was
    killed): charged at the job's estimate, since the provider bills it."""


def _dt(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _micros(*, nullable: bool = False) -> Column[int]:
    return Column(BigInteger, nullable=nullable)


# An edit request: where it came from, what it asks, its lease, money and result.
class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "fair_seq", "created_at"),)

    id: str = Field(default_factory=new_job_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=32)
    workspace: str = Field(max_length=64)
    channel: str = Field(max_length=64)
    thread: str | None = Field(default=None, max_length=64)
    user: str = Field(max_length=64)
    scope: str = Field(max_length=200, index=True)
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    options_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    provider: str = Field(max_length=32)
    status: JobStatus = Field(
        default=JobStatus.QUEUED, sa_column=Column(EnumString(JobStatus), nullable=False)
    )
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_dt())
    provider_task_id: str | None = Field(default=None, max_length=200)
    estimate_micros: int = Field(default=0, sa_column=_micros())
    cost_micros: int | None = Field(default=None, sa_column=_micros(nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    parent_job_id: str | None = Field(default=None, max_length=32)
    batch_id: str | None = Field(default=None, max_length=32, index=True)
    edit_thread_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("edit_threads.id"), nullable=True)
    )
    base_version: int | None = None
    version: int | None = None
    fair_seq: int = 0
    status_message_id: str | None = Field(default=None, max_length=100)
    delivered_at: datetime | None = Field(default=None, sa_column=_dt())
    delivering_by: str | None = Field(default=None, max_length=100, index=True)
    """The process (heartbeat owner) posting the job now, or whose post was not confirmed."""
    posted_at: datetime | None = Field(default=None, sa_column=_dt())
    """When the post was confirmed (it is in the thread)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=_dt())
    finished_at: datetime | None = Field(default=None, sa_column=_dt())


# An input, mask or output image of a job; the bytes live in the blob store under sha256.
class JobImage(SQLModel, table=True):
    __tablename__ = "job_images"
    __table_args__ = (UniqueConstraint("job_id", "role", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(
        sa_column=Column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    )
    role: ImageRole = Field(sa_column=Column(EnumString(ImageRole), nullable=False))
    position: int = 0
    sha256: str = Field(max_length=64, index=True)
    mime: str = Field(max_length=32)
    width: int
    height: int


# A spending cap: per channel ("platform:workspace:channel") or workspace default (":*").
class BudgetPolicy(SQLModel, table=True):
    __tablename__ = "budget_policies"

    scope: str = Field(primary_key=True, max_length=200)
    period: str = Field(max_length=8)
    cap_micros: int = Field(sa_column=_micros())
    user_cap_micros: int | None = Field(default=None, sa_column=_micros(nullable=True))
    warn_percent: int = 80
    updated_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))


# Money spent and reserved per scope and period; per-user rows use "<scope>|user:<id>".
class Usage(SQLModel, table=True):
    __tablename__ = "usage"
    __table_args__ = (UniqueConstraint("scope", "period_key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=300)
    period_key: str = Field(max_length=16)
    spent_micros: int = Field(default=0, sa_column=_micros())
    reserved_micros: int = Field(default=0, sa_column=_micros())
    warned_at: datetime | None = Field(default=None, sa_column=_dt())


# Append-only money trail: one reserve per job, then at most one settle or refund.
class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=32, index=True)
    scope: str = Field(max_length=200, index=True)
    user: str = Field(max_length=64)
    kind: LedgerKind = Field(sa_column=Column(EnumString(LedgerKind), nullable=False))
    amount_micros: int = Field(sa_column=_micros())
    # The usage period the reservation went to, so a settle after rollover hits the same row.
    period_key: str = Field(max_length=16)
    # Set to job_id on settle/refund rows only: the unique index makes closing a job happen once.
    closes_job_id: str | None = Field(default=None, max_length=32, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False, index=True))


# A platform thread that holds an edit conversation and its versions.
class EditThread(SQLModel, table=True):
    __tablename__ = "edit_threads"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel", "thread"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    workspace: str = Field(max_length=64)
    channel: str = Field(max_length=64)
    thread: str = Field(max_length=64)
    current_version: int = 0
    # Highest version ever added (undo lowers current_version, never this).
    last_version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))


# One output image of a thread. Versions are numbered 1, 2, ... in the order jobs produced
# them; a batch (n=2..4) is ONE version with an image per `position`, and the `chosen` one is
# what refinements, undo and compare use.
class ThreadVersion(SQLModel, table=True):
    __tablename__ = "thread_versions"
    __table_args__ = (UniqueConstraint("thread_id", "version", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(
        sa_column=Column(Integer, ForeignKey("edit_threads.id", ondelete="CASCADE"), nullable=False)
    )
    version: int
    job_id: str = Field(max_length=32, index=True)
    position: int = 0
    sha256: str = Field(max_length=64, index=True)
    mime: str = Field(max_length=32)
    width: int
    height: int
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))
    chosen: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    # The platform user id of who asked for the job (None for versions made before batches).
    author: str | None = Field(default=None, max_length=64)


# Platform event keys already handled: a second delivery of the same event does nothing.
class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    key: str = Field(primary_key=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))


# An acknowledged request not handled yet (storage.inbox): written before the platform's ack,
# deleted with the jobs it made; a process that finds one of a dead owner handles it.
class InboxEntry(SQLModel, table=True):
    __tablename__ = "inbox"

    key: str = Field(primary_key=True, max_length=200)
    platform: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=100, index=True)
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))


# One row per live process (storage.heartbeats): leases and inbox entries of an owner whose
# beat went stale are taken over by the others.
class Heartbeat(SQLModel, table=True):
    __tablename__ = "heartbeats"

    owner: str = Field(primary_key=True, max_length=100)
    host: str = Field(max_length=100)
    pid: int
    started_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))
    beat_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))


# Slack's OAuth tables (installs, bot tokens, install states) live on the same metadata.
from storage import slack_installs as slack_installs  # noqa: E402


# The last press of one button by one person: a second press within seconds does nothing.
class ButtonPress(SQLModel, table=True):
    __tablename__ = "button_presses"

    key: str = Field(primary_key=True, max_length=200)
    pressed_at: datetime = Field(default_factory=utcnow, sa_column=_dt(nullable=False))
