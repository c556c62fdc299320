"""Durable intake: an acknowledged request is in the inbox (storage.inbox) until handled.

`Intake.accept` writes the event key and the request in one transaction: the adapters call it
before they acknowledge the platform (Slack's 200), and `EditService.submit` calls it for
paths that cannot (it is a no-op for a request already accepted). The inbox entry goes away
in the transaction that queues the request's jobs (bot.service.enqueue), or once the request
was answered otherwise. `adopt` takes over the entries of dead processes (found by the
heartbeat, bot.jobs.heartbeat) and hands them back as IncomingEdits to submit again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import timedelta
from enum import StrEnum
from typing import Any, get_args, get_type_hints

from bot.core.domain import Attachment, IncomingEdit, OptionPicks, Place
from bot.core.errors import PlatformError
from storage import inbox
from storage.columns import utcnow
from storage.db import Sessions, write_session

log = logging.getLogger(__name__)

ORPHAN_S = 30.0
"""An entry whose owner never wrote a heartbeat is taken over once it is this old."""
MAX_REPLAYS = 3
"""Times an entry is taken over; one that keeps killing its process is dropped after that."""

Reattach = Callable[[Attachment], Attachment]
"""A platform's way to fetch a stored attachment (name, url, size, mime) again."""


def encode_edit(edit: IncomingEdit) -> str:
    """The request as JSON; attachments keep what fetches them again, not their bytes."""
    return json.dumps(
        {
            "place": asdict(edit.place),
            "text": edit.text,
            "event_key": edit.event_key,
            "message_id": edit.message_id,
            "picks": asdict(edit.picks),
            "attachments": [
                {"name": a.name, "size": a.size, "mime": a.mime, "url": a.url}
                for a in edit.attachments
            ],
        }
    )


def decode_edit(payload: str, *, reattach: Reattach | None) -> IncomingEdit:
    """An IncomingEdit from encode_edit's JSON, its attachments fetched through `reattach`."""
    data = json.loads(payload)
    attachments = tuple(
        _reattached(Attachment(fetch=_gone, **a), reattach) for a in data["attachments"]
    )
    return IncomingEdit(
        place=Place(**data["place"]),
        text=data["text"],
        event_key=data["event_key"],
        attachments=attachments,
        message_id=data["message_id"],
        picks=_picks(data["picks"]),
    )


class Intake:
    """The inbox of one process (`owner`)."""

    def __init__(
        self, *, sessions: Sessions, owner: str, clock: Callable[[], Any] = utcnow
    ) -> None:
        self.sessions = sessions
        self.owner = owner
        self.clock = clock
        self.reattach: dict[str, Reattach] = {}
        """Per platform, how to fetch a taken-over request's attachments (bot.app wires it)."""
        self._accepted: set[str] = set()

    async def accept(self, edit: IncomingEdit) -> bool:
        """Record the request durably; False when its event key was seen before."""
        async with write_session(self.sessions) as session:
            fresh = await inbox.accept(
                session,
                key=edit.event_key,
                platform=edit.place.platform,
                payload=encode_edit(edit),
                owner=self.owner,
                now=self.clock(),
            )
        if fresh:
            self._accepted.add(edit.event_key)
        return fresh

    async def take(self, edit: IncomingEdit) -> bool:
        """Whether this call should handle `edit`: accepted by this process and not taken yet
        (the adapter accepted it before its ack), or accepted now."""
        if edit.event_key in self._accepted:
            self._accepted.discard(edit.event_key)
            return True
        fresh = await self.accept(edit)
        self._accepted.discard(edit.event_key)
        return fresh

    async def done(self, key: str) -> None:
        """The request was answered; a failure here only means it may be answered again."""
        try:
            async with write_session(self.sessions) as session:
                await inbox.done(session, key=key)
        except Exception:
            log.warning("inbox: could not clear %s", key, exc_info=True)

    async def adopt(
        self, owners: Sequence[str], platforms: Sequence[str], *, orphans_s: float = ORPHAN_S
    ) -> list[IncomingEdit]:
        """Take over the entries of dead `owners` on `platforms` (and orphans older than
        `orphans_s`: their owner died before its first heartbeat), as requests to submit."""
        before = self.clock() - timedelta(seconds=orphans_s)
        async with write_session(self.sessions) as session:
            taken = await inbox.adopt(
                session,
                owners=owners,
                owner=self.owner,
                platforms=platforms,
                orphans_before=before,
            )
        edits = []
        for key, payload, attempts in taken:
            if attempts > MAX_REPLAYS:
                log.error("inbox: %s was taken over %d times; dropped", key, attempts)
                await self.done(key)
                continue
            try:
                edit = decode_edit(payload, reattach=self.reattach.get(_platform(payload)))
            except Exception:
                log.exception("inbox: %s cannot be read back; dropped", key)
                await self.done(key)
                continue
            log.warning("inbox: taking over %s from a dead process", key)
            self._accepted.add(key)
            edits.append(edit)
        return edits


async def _gone() -> bytes:
    raise PlatformError("this file cannot be fetched again after a restart; send it again")


def _reattached(attachment: Attachment, reattach: Reattach | None) -> Attachment:
    if reattach is None or attachment.url is None:
        return attachment
    return reattach(attachment)


def _platform(payload: str) -> str:
    return str(json.loads(payload)["place"]["platform"])


def _picks(data: Mapping[str, Any]) -> OptionPicks:
    """OptionPicks from asdict's output: enum fields back to their enums."""
    hints = get_type_hints(OptionPicks)
    values: dict[str, Any] = {}
    for f in fields(OptionPicks):
        value = data.get(f.name)
        enum = next(
            (t for t in get_args(hints[f.name]) if isinstance(t, type) and issubclass(t, StrEnum)),
            None,
        )
        values[f.name] = enum(value) if enum is not None and value is not None else value
    return OptionPicks(**values)
