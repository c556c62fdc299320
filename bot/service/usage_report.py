"""The usage report finance reads: one row per edit, in dollars, with names people know.

`/edit-budget usage` (admins, delivered privately) and `editbot usage --csv` write it; the
raw ledger (micro-dollars, scopes, reserve and settle rows) is `editbot usage --ledger`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from bot.core.domain import Place
from bot.core.ports import ChatPort
from storage.db import Sessions
from storage.finance import EditMoney, edit_money

HEADER = ("date", "channel", "user", "prompt", "version", "status", "usd", "link")
PROMPT_CHARS = 500


def dollars(micros: int) -> str:
    """Exact dollars with six decimals (`0.044128`, `-1.500000`): a column finance can sum."""
    return str((Decimal(micros) / 1_000_000).quantize(Decimal("0.000001")))


@dataclass
class _Names:
    """Channel names, people's names and thread links, each asked of the platform once."""

    chat: ChatPort | None
    channels: dict[tuple[str, str], str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str, str | None], str] = field(default_factory=dict)

    async def channel(self, place: Place) -> str:
        key = (place.workspace, place.channel)
        if key not in self.channels:
            self.channels[key] = (
                await self.chat.channel_name(place) if self.chat is not None else place.channel
            )
        return self.channels[key]

    async def load_users(self, place: Place, users: list[str]) -> None:
        missing = [u for u in dict.fromkeys(users) if u not in self.users]
        if not missing:
            return
        found: Mapping[str, str] = (
            await self.chat.display_names(place, missing) if self.chat is not None else {}
        )
        self.users.update({u: found.get(u, u) for u in missing})

    async def link(self, place: Place) -> str:
        key = (place.workspace, place.channel, place.thread)
        if key not in self.links:
            got = await self.chat.thread_link(place) if self.chat is not None else None
            self.links[key] = got or ""
        return self.links[key]


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading =, +, - or @ would start a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _status(entry: EditMoney) -> str:
    if entry.kind == "edit":
        return entry.status
    return "lost in a restart" if entry.kind == "lost" else entry.kind


async def _row(entry: EditMoney, names: _Names) -> tuple[str, ...]:
    place = entry.place
    channel = await names.channel(place) if place is not None else ""
    user = names.users.get(place.user, place.user) if place is not None else ""
    link = await names.link(place) if place is not None else ""
    prompt = " ".join(entry.prompt.split())[:PROMPT_CHARS]
    return (
        entry.at.astimezone(UTC).date().isoformat(),
        _cell(channel),
        _cell(user),
        _cell(prompt),
        f"v{entry.version}" if entry.version else "",
        _status(entry),
        dollars(entry.micros),
        link,
    )


async def finance_csv(
    sessions: Sessions,
    *,
    scope_prefix: str,
    since: date,
    chat: ChatPort | None,
    exact: bool = False,
) -> tuple[bytes, int]:
    """The report since `since` as CSV bytes, and how many rows (header not counted).

    Args:
        chat: names channels and people and links threads; None (the command line) leaves ids.
        exact: only the scope itself (a channel), not every scope that starts with it.
    """
    start = datetime.combine(since, time(), tzinfo=UTC)
    async with sessions() as session:
        entries = await edit_money(session, scope_prefix=scope_prefix, since=start)
    if exact:
        entries = [e for e in entries if e.place is None or e.place.scope == scope_prefix]
    names = _Names(chat)
    places = [e.place for e in entries if e.place is not None]
    if places:
        await names.load_users(places[0], [p.user for p in places])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow(await _row(entry, names))
    return out.getvalue().encode(), len(entries)
