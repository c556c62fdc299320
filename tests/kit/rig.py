"""The real core (bot.app.root.build_core) over a test database, a blob store and a FakeChat,
with a clock the test moves, for the service tests.

Helpers read what a person (FakeChat) and an auditor (jobs, ledger, usage) would see.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlmodel import select

from bot.core.config import Settings
from bot.core.domain import Attachment, IncomingEdit, Place
from bot.core.jobs import StoredImage
from bot.core.ports import Action, ActionPress, Provider
from bot.jobs.worker import Worker
from bot.service.edit_service import EditService
from storage.db import Sessions, write_session
from storage.images import job_images
from storage.models import EditThread, ImageRole, Job, JobImage, LedgerEntry
from storage.policies import set_policy
from storage.threads import add_versions, find_thread
from tests.kit.chat import FakeChat, attachment
from tests.kit.core import real_core
from tests.kit.images import solid
from tests.kit.settings import make_settings

START = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
CHANNEL = Place(platform="slack", workspace="T1", channel="C1", user="U1")


@dataclass
class Rig:
    """The service under test and everything it talks to."""

    service: EditService
    worker: Worker
    chat: FakeChat
    sessions: Sessions
    blobs: Any
    settings: Settings
    wakes: list[int] = field(default_factory=list)
    now: list[datetime] = field(default_factory=lambda: [START])
    _keys: int = 0

    def advance(self, delta: timedelta) -> None:
        self.now[0] += delta

    def key(self) -> str:
        self._keys += 1
        return f"ev{self._keys}"

    async def submit(
        self,
        text: str,
        *files: Attachment,
        place: Place = CHANNEL,
        key: str | None = None,
        message_id: str | None = "msg-1",
    ) -> None:
        # A second per request keeps creation order visible in created_at.
        self.advance(timedelta(seconds=1))
        await self.service.submit(
            IncomingEdit(
                place=place,
                text=text,
                event_key=key or self.key(),
                attachments=tuple(files),
                message_id=message_id,
            )
        )

    async def press(
        self, action: Action, job_id: str, *, user: str = "U1", thread: str | None = None,
        platform_admin: bool = False, key: str | None = None,
    ) -> None:  # fmt: skip
        place = Place(platform="slack", workspace="T1", channel="C1", user=user, thread=thread)
        self.advance(timedelta(seconds=1))
        await self.service.press(
            ActionPress(
                action=action,
                job_id=job_id,
                place=place,
                event_key=key or self.key(),
                platform_admin=platform_admin,
            )
        )

    async def jobs(self) -> list[Job]:
        async with self.sessions() as session:
            rows = await session.exec(select(Job).execution_options(populate_existing=True))
            return sorted(rows.all(), key=lambda j: (j.created_at, j.id))

    async def ledger(self) -> list[LedgerEntry]:
        async with self.sessions() as session:
            return list((await session.exec(select(LedgerEntry))).all())

    async def inputs(self, job_id: str) -> list[JobImage]:
        async with self.sessions() as session:
            return await job_images(session, job_id=job_id, role=ImageRole.INPUT)

    async def thread(self, thread: str) -> EditThread | None:
        async with self.sessions() as session:
            return await find_thread(
                session, platform="slack", workspace="T1", channel="C1", thread=thread
            )

    async def set_cap(self, usd_micros: int, **kw: Any) -> None:
        async with write_session(self.sessions) as session:
            await set_policy(
                session, scope=CHANNEL.scope, period="month", cap_micros=usd_micros, **kw
            )

    async def add_version(self, *, thread_id: int, job_id: str, data: bytes) -> int:
        """What the worker does with a result: blob + thread version. Returns its number."""
        sha = await self.blobs.put(data)
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
        async with write_session(self.sessions) as session:
            rows = await add_versions(
                session,
                thread_id=thread_id,
                job_id=job_id,
                images=[StoredImage(sha256=sha, mime="image/png", width=width, height=height)],
                prompt="result",
            )
        return rows[0].version

    def texts(self) -> list[str]:
        return self.chat.texts()


def make_rig(
    *,
    sessions: Sessions,
    tmp_path: Path,
    blobs: Any = None,
    chat: FakeChat | None = None,
    provider: Provider | None = None,
    concurrency: int = 1,
    **overrides: Any,
) -> Rig:
    from storage.blobs import FileBlobStore

    settings = make_settings(tmp_path, **{"admins": "UADMIN", **overrides})
    chat = chat if chat is not None else FakeChat("slack")
    store = blobs if blobs is not None else FileBlobStore(tmp_path / "blobs")
    wakes: list[int] = []
    now = [START]
    core = real_core(
        settings,
        sessions=sessions,
        blobs=store,
        chats={"slack": chat},
        clock=lambda: now[0],
        on_enqueued=lambda: wakes.append(1),
        provider=provider,
        owner="w1",
        concurrency=concurrency,
    )
    return Rig(
        service=core.service,
        worker=core.worker,
        chat=chat,
        sessions=sessions,
        blobs=store,
        settings=settings,
        wakes=wakes,
        now=now,
    )


def counted(name: str, data: bytes) -> tuple[Attachment, list[int]]:
    """An attachment that counts its fetches (to show that nothing was downloaded)."""
    calls: list[int] = []

    async def fetch() -> bytes:
        calls.append(1)
        return data

    return Attachment(name=name, fetch=fetch, size=len(data)), calls


def images(*colours: tuple[int, int, int]) -> Sequence[Attachment]:
    """Solid PNG attachments, img1.png, img2.png, ..., one per colour."""
    return [attachment(f"img{i}.png", solid(c)) for i, c in enumerate(colours, start=1)]
