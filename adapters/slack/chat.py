"""SlackChatPort: the core's outbound port over Slack's Web API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.downloads import SlackDownloader
from adapters.slack.translate import PLATFORM
from adapters.slack.views import message_blocks
from bot.core.domain import Attachment, Place
from bot.core.errors import PlatformError
from bot.core.ports import ActionButton, MessageRef, ResultImage

UPDATE_INTERVAL_S = 5.0
MAX_REPLY_PAGES = 10  # conversations.replies pages read when looking for a thread's images


@dataclass
class _Coalesced:
    """Per-message state of chat.update throttling."""

    last_sent: float | None = None
    pending: tuple[str, Sequence[ActionButton]] | None = None
    flusher: asyncio.Task[None] | None = field(default=None, repr=False)


class SlackChatPort:
    """ChatPort over an AsyncWebClient; every reply goes to `thread_ts` = Place.thread.

    Args:
        clock, sleep: injected so tests can drive chat.update coalescing without waiting.
    """

    platform = PLATFORM

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        downloader: SlackDownloader,
        update_interval: float = UPDATE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._downloader = downloader
        self._interval = update_interval
        self._clock = clock
        self._sleep = sleep
        self._updates: dict[tuple[str, str], _Coalesced] = {}

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        """A Slack thread is its root message's ts: the anchor's, or a new root message's."""
        if place.thread:
            return place
        if anchor:
            return _with_thread(place, anchor)
        resp = await self._call(self._client.chat_postMessage, channel=place.channel, text=title)
        return _with_thread(place, str(resp["ts"]))

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        resp = await self._call(
            self._client.chat_postMessage,
            channel=place.channel,
            thread_ts=place.thread,
            text=text,
            blocks=message_blocks(text, actions),
        )
        return MessageRef(place=place, message_id=str(resp["ts"]))

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """chat.update at most once per interval per message; the latest text always lands."""
        key = (ref.place.channel, ref.message_id)
        state = self._updates.setdefault(key, _Coalesced())
        now = self._clock()
        if state.flusher is not None:
            state.pending = (text, actions)
            return
        if state.last_sent is None or now - state.last_sent >= self._interval:
            state.last_sent = now
            await self._send_update(ref, text, actions)
            return
        state.pending = (text, actions)
        delay = self._interval - (now - state.last_sent)
        state.flusher = asyncio.create_task(self._flush_later(ref, key, delay))

    async def flush(self) -> None:
        """Wait for every coalesced chat.update still pending (for a clean shutdown)."""
        tasks = [s.flusher for s in self._updates.values() if s.flusher is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _flush_later(self, ref: MessageRef, key: tuple[str, str], delay: float) -> None:
        await self._sleep(delay)
        state = self._updates[key]
        pending, state.pending, state.flusher = state.pending, None, None
        if pending is not None:
            state.last_sent = self._clock()
            await self._send_update(ref, *pending)

    async def _send_update(
        self, ref: MessageRef, text: str, actions: Sequence[ActionButton]
    ) -> None:
        await self._call(
            self._client.chat_update,
            channel=ref.place.channel,
            ts=ref.message_id,
            text=text,
            blocks=message_blocks(text, actions),
        )

    async def post_images(
        self,
        place: Place,
        *,
        images: Sequence[ResultImage],
        caption: str,
        alt_text: str,
        actions: Sequence[ActionButton] = (),
    ) -> MessageRef:
        """files_upload_v2 into the thread (caption as the comment), then a message of buttons."""
        uploads = [
            {
                "content": img.data,
                "filename": img.filename,
                "title": img.filename,
                "alt_txt": alt_text[:1000],
            }
            for img in images
        ]
        resp = await self._call(
            self._client.files_upload_v2,
            file_uploads=uploads,
            channel=place.channel,
            thread_ts=place.thread,
            initial_comment=caption,
        )
        if actions:
            return await self.post_text(place, "What next?", actions=actions)
        files = resp.get("files") or []
        return MessageRef(place=place, message_id=str(files[0]["id"]) if files else "")

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        """Images in the thread, newest first, read with conversations.replies."""
        if not place.thread:
            return []
        messages: list[dict] = []
        cursor: str | None = None
        for _ in range(MAX_REPLY_PAGES):
            resp = await self._call(
                self._client.conversations_replies,
                channel=place.channel,
                ts=place.thread,
                limit=200,
                cursor=cursor,
            )
            messages.extend(resp.get("messages") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        found: list[Attachment] = []
        for message in reversed(messages):
            for f in reversed(message.get("files") or []):
                if str(f.get("mimetype") or "").startswith("image/"):
                    a = self._downloader.attachment(f)
                    if a is not None:
                        found.append(a)
        return found

    @staticmethod
    async def _call(method: Callable[..., Awaitable[object]], **kwargs: object) -> dict:
        """Call a Web API method; SlackApiError becomes the core's PlatformError."""
        try:
            resp = await method(**{k: v for k, v in kwargs.items() if v is not None})
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            raise PlatformError(f"Slack refused the call: {error or 'unknown error'}") from exc
        data = getattr(resp, "data", resp)
        return data if isinstance(data, dict) else {}


def _with_thread(place: Place, thread: str) -> Place:
    return Place(
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        user=place.user,
        thread=thread,
    )
