"""Budget rules: periods, scopes, policies, and what a reservation or a refusal says.

Pure values and arithmetic on them; storage.budgets applies them to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Period = Literal["day", "week", "month", "none"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "none")
DEFAULT_WARN_PERCENT = 80


def period_key(period: str, now: datetime) -> str:
    """The usage bucket of `now` in UTC: `2026-11-21`, `2026-W47`, `2026-11` or `all`."""
    now = now.astimezone(UTC)
    if period == "day":
        return now.strftime("%Y-%m-%d")
    if period == "week":
        iso = now.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if period == "month":
        return now.strftime("%Y-%m")
    if period == "none":
        return "all"
    raise ValueError(f"unknown budget period {period!r}")


def workspace_scope(scope: str) -> str:
    """The workspace-default scope of a channel scope: `slack:T1:C1` -> `slack:T1:*`."""
    return scope.rsplit(":", 1)[0] + ":*"


def user_scope(scope: str, user: str) -> str:
    """The usage scope of one person's spending in a channel."""
    return f"{scope}|user:{user}"


@dataclass(frozen=True)
class Policy:
    """The cap that applies to a channel, and where it came from."""

    scope: str
    period: str
    cap_micros: int
    user_cap_micros: int | None = None
    warn_percent: int = DEFAULT_WARN_PERCENT
    source: Literal["channel", "workspace", "default"] = "default"


@dataclass(frozen=True)
class BudgetDefaults:
    """The cap and period of channels with no policy (EDITBOT_DEFAULT_BUDGET_USD / _PERIOD)."""

    cap_micros: int
    period: str


@dataclass(frozen=True)
class Reservation:
    """Money set aside for jobs; `warn` is True the first time the period passes the threshold."""

    job_ids: tuple[str, ...]
    scope: str
    period_key: str
    estimate_micros: int
    spent_micros: int
    reserved_micros: int
    cap_micros: int
    policy: Policy
    warn: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: which cap (`channel` or `user`) and the numbers."""

    scope: str
    limit: Literal["channel", "user"]
    spent_micros: int
    reserved_micros: int
    cap_micros: int
    estimate_micros: int
    period_key: str
    policy: Policy
