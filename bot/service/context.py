"""What the service's parts share: the injected resources, and the conversation of one request."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.budgets import BudgetDefaults
from bot.core.config import Settings, budget_defaults
from bot.core.domain import Place, ProviderName
from bot.core.ports import ActionButton, BlobStore, ChatPort, MessageRef, ResultImage
from bot.core.pricing import PriceTable
from storage.db import Sessions


@dataclass(frozen=True)
class ServiceContext:
    """Everything the service's parts share: injected resources and configuration."""

    sessions: Sessions
    blobs: BlobStore
    chats: Mapping[str, ChatPort]
    settings: Settings
    table: PriceTable
    provider: ProviderName
    clock: Callable[[], datetime]
    on_enqueued: Callable[[], None] | None = None

    def chat(self, platform: str) -> ChatPort:
        """The ChatPort of a platform; KeyError names it when the adapter was not wired."""
        return self.chats[platform]

    @property
    def defaults(self) -> BudgetDefaults:
        return budget_defaults(self.settings)

    def wake_workers(self) -> None:
        if self.on_enqueued is not None:
            self.on_enqueued()


class Conversation:
    """Where the answers to one request go; the thread is opened on the first message."""

    def __init__(self, chat: ChatPort, place: Place, *, title: str, anchor: str | None) -> None:
        self.chat = chat
        self._place = place
        self._title = title
        self._anchor = anchor

    async def place(self) -> Place:
        """The place with its thread, opening the thread now if there is none yet."""
        if self._place.thread is None:
            self._place = await self.chat.open_thread(
                self._place, title=self._title, anchor=self._anchor
            )
        return self._place

    async def say(self, text: str, *, actions: Sequence[ActionButton] = ()) -> MessageRef:
        return await self.chat.post_text(await self.place(), text, actions=actions)

    async def show(self, image: ResultImage, *, caption: str, alt_text: str) -> MessageRef:
        return await self.chat.post_images(
            await self.place(), images=[image], caption=caption, alt_text=alt_text
        )
