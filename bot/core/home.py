"""What a person's Home view shows (Slack's Home tab): their recent edits, the budgets of the
channels they use, and, for admins, every channel's spend this period. Plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.domain import Place

RECENT_EDITS = 5
"""Edits a Home view lists."""


@dataclass(frozen=True)
class EditSummary:
    """One of the person's edits: where it is (its thread), what it asked and what it cost.

    `cost_micros` is what was charged, or the estimate while it has not finished.
    """

    job_id: str
    place: Place
    prompt: str
    status: str
    cost_micros: int
    created_at: datetime


@dataclass(frozen=True)
class ChannelBudget:
    """A channel's budget this period: spent (settled), reserved (running), its cap."""

    scope: str
    channel: str
    period: str
    spent_micros: int
    reserved_micros: int
    cap_micros: int
    user_cap_micros: int | None = None

    @property
    def left_micros(self) -> int:
        return max(0, self.cap_micros - self.spent_micros - self.reserved_micros)


@dataclass(frozen=True)
class HomeView:
    """Everything a Home view shows, for one person of one workspace.

    `all_channels` is filled for admins only (bot.core.access): every channel with spend or
    a budget of its own this period.
    """

    edits: tuple[EditSummary, ...]
    budgets: tuple[ChannelBudget, ...]
    help_text: str
    admin: bool = False
    all_channels: tuple[ChannelBudget, ...] = ()
