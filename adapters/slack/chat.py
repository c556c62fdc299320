"""SlackChatPort: the core's outbound port over Slack's Web API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.downloads import SlackDownloader
from adapters.slack.escape import outgoing
from adapters.slack.people import SlackPeople
from adapters.slack.translate import PLATFORM
from adapters.slack.views import message_blocks, parse_action_id
from bot.core.domain import Attachment, Place
from bot.core.errors import PlatformError
from bot.core.ports import RESULT_ACTIONS, ActionButton, MessageRef, ResultImage

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 1.0
"""Least seconds between two chat.update calls of one message."""
CHANNEL_GAP_S = 1.0
"""Least seconds between two chat.update calls in one channel (Slack allows about 1/s)."""
WORKSPACE_GAP_S = 1.2
"""Least seconds between two chat.update calls in one workspace (Tier 3: 50 a minute)."""
MAX_REPLY_PAGES = 10  # conversations.replies pages read when looking for a thread's images


@dataclass
class _Coalesced:
    """Per-message state of chat.update throttling."""

    last_sent: float | None = None
    pending: tuple[str, list[dict]] | None = None
    """The latest (text, blocks) not sent yet."""
    flusher: asyncio.Task[None] | None = field(default=None, repr=False)
    preview: tuple[bytes, str] | None = field(default=None, repr=False)
    """The preview last uploaded for this status message: its bytes and Slack file id."""


class SlackChatPort(SlackPeople):
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
        self._admins = {}  # workspace -> (when read, its admins): SlackPeople.admins
        self._downloader = downloader
        self._interval = update_interval
        self._clock = clock
        self._sleep = sleep
        self._updates: dict[tuple[str, str], _Coalesced] = {}
        self._free: dict[tuple[str, str], float] = {}
        """When the next chat.update may go in each ("channel" | "workspace", id): every
        message's updates share their channel's and their workspace's pace."""

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        """A Slack thread is its root message's ts: the anchor's, or a new root message's."""
        if place.thread:
            return place
        if anchor:
            return _with_thread(place, anchor)
        resp = await self._call(
            self._client.chat_postMessage,
            channel=place.channel,
            text=outgoing(title, requester=place.user),
        )
        return _with_thread(place, str(resp["ts"]))

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        text = outgoing(text, requester=place.user)
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
        text = outgoing(text, requester=ref.place.user)
        await self._coalesce(ref, text, message_blocks(text, actions))

    async def mark_pressed(self, ref: MessageRef, note: str) -> None:
        """chat.update of the pressed message: its blocks as the thread shows them, the actions
        block replaced by a context line (a file share keeps its files)."""
        shown = await self._shown_blocks(ref)
        if not shown:  # not found: blanking a message it cannot read back would lose its text
            raise PlatformError(f"pressed message {ref.message_id} not found in its thread")
        kept = [b for b in shown if b.get("type") != "actions"]
        line = outgoing(note, requester=ref.place.user)
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
        await self._call(
            self._client.chat_update,
            channel=ref.place.channel,
            ts=ref.message_id,
            text=line,
            blocks=kept,
        )

    async def _shown_blocks(self, ref: MessageRef) -> list[dict]:
        """The blocks of message `ref` in its thread (conversations.replies); none if unseen."""
        thread = ref.place.thread or ref.message_id
        resp = await self._call(
            self._client.conversations_replies,
            channel=ref.place.channel,
            ts=thread,
            oldest=ref.message_id,
            inclusive=True,
            limit=2,
        )
        for message in resp.get("messages") or []:
            if message.get("ts") == ref.message_id:
                return list(message.get("blocks") or [])
        return []

    async def update_status(
        self, ref: MessageRef, text: str, *, preview: ResultImage | None = None
    ) -> None:
        """The status line, and the latest preview as an image block of a file uploaded
        without a channel (private: only the block shows it)."""
        text = outgoing(text, requester=ref.place.user)
        blocks = message_blocks(text, ())
        state = self._updates.setdefault((ref.place.channel, ref.message_id), _Coalesced())
        if preview is not None and (state.preview is None or state.preview[0] != preview.data):
            try:
                resp = await self._call(
                    self._client.files_upload_v2,
                    content=preview.data,
                    filename=preview.filename,
                    title="Preview",
                    alt_txt="A preview of the edit in progress",
                )
            except PlatformError:  # the line still moves on; the last preview (if any) stays
                log.warning("could not upload a preview for %s", ref.message_id, exc_info=True)
                resp = {}
            files = resp.get("files") or []
            if files:
                old, state.preview = state.preview, (preview.data, str(files[0]["id"]))
                if old is not None:
                    await self._delete_file(old[1])
        if state.preview is not None:
            blocks.append(
                {
                    "type": "image",
                    "slack_file": {"id": state.preview[1]},
                    "alt_text": "A preview of the edit in progress",
                }
            )
        await self._coalesce(ref, text, blocks)

    async def _coalesce(self, ref: MessageRef, text: str, blocks: list[dict]) -> None:
        key = (ref.place.channel, ref.message_id)
        state = self._updates.setdefault(key, _Coalesced())
        now = self._clock()
        if state.flusher is not None:
            state.pending = (text, blocks)
            return
        paces = {
            ("channel", ref.place.channel): CHANNEL_GAP_S,
            ("workspace", ref.place.workspace): WORKSPACE_GAP_S,
        }
        due = max(self._free.get(pace, now) for pace in paces)
        if state.last_sent is not None:
            due = max(due, state.last_sent + self._interval)
        for pace, gap in paces.items():
            self._free[pace] = max(due, now) + gap
        if due <= now:
            state.last_sent = now
            await self._send_update(ref, text, blocks)
            return
        state.pending = (text, blocks)
        state.flusher = asyncio.create_task(self._flush_later(ref, key, due - now))

    async def flush(self) -> None:
        """Wait for every coalesced chat.update still pending (for a clean shutdown)."""
        tasks = [s.flusher for s in self._updates.values() if s.flusher is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _flush_later(self, ref: MessageRef, key: tuple[str, str], delay: float) -> None:
        await self._sleep(delay)
        state = self._updates.get(key)
        if state is None:  # the message was replaced meanwhile
            return
        pending, state.pending, state.flusher = state.pending, None, None
        if pending is not None:
            state.last_sent = self._clock()
            await self._send_update(ref, *pending)

    async def _send_update(self, ref: MessageRef, text: str, blocks: list[dict]) -> None:
        await self._call(
            self._client.chat_update,
            channel=ref.place.channel,
            ts=ref.message_id,
            text=text,
            blocks=blocks,
        )

    async def post_result(
        self,
        place: Place,
        *,
        text: str,
        images: Sequence[ResultImage] = (),
        alt_text: str = "",
        actions: Sequence[ActionButton] = (),
        notify: str | None = None,
        replaces: MessageRef | None = None,
    ) -> MessageRef:
        """One message: the files shared into the thread with the caption and buttons as the
        share's blocks (files.completeUploadExternal takes `blocks`), or a text message. It
        mentions `notify`; then the status message `replaces` is deleted (chat.delete)."""
        if notify and f"<@{notify}>" not in text:
            text = f"<@{notify}> {text}"
        text = outgoing(text, requester=place.user)
        blocks = message_blocks(text, actions)
        if images:
            resp = await self._call(
                self._client.files_upload_v2,
                file_uploads=[
                    {
                        "content": img.data,
                        "filename": img.filename,
                        "title": img.filename,
                        "alt_txt": alt_text[:1000],
                    }
                    for img in images
                ],
                channel=place.channel,
                thread_ts=place.thread,
                blocks=json.dumps(blocks),
            )
            files = resp.get("files") or []
            ref = MessageRef(place=place, message_id=str(files[0]["id"]) if files else "")
        else:
            resp = await self._call(
                self._client.chat_postMessage,
                channel=place.channel,
                thread_ts=place.thread,
                text=text,
                blocks=blocks,
            )
            ref = MessageRef(place=place, message_id=str(resp["ts"]))
        if replaces is not None:
            await self._delete(replaces)
        return ref

    async def _delete(self, ref: MessageRef) -> None:
        """Delete a status message, dropping its pending updates; gone already is fine."""
        state = self._updates.pop((ref.place.channel, ref.message_id), None)
        if state is not None and state.flusher is not None:
            state.flusher.cancel()
        if state is not None and state.preview is not None:
            await self._delete_file(state.preview[1])
        try:
            await self._call(self._client.chat_delete, channel=ref.place.channel, ts=ref.message_id)
        except PlatformError:  # the result is posted: a status line left over is cosmetic
            log.warning("could not delete status message %s", ref.message_id, exc_info=True)

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
            initial_comment=outgoing(caption, requester=place.user),
        )
        if actions:
            return await self.post_text(place, "What next?", actions=actions)
        files = resp.get("files") or []
        return MessageRef(place=place, message_id=str(files[0]["id"]) if files else "")

    async def _delete_file(self, file_id: str) -> None:
        """Delete a preview file nothing shows any more (they are private, but they add up)."""
        try:
            await self._call(self._client.files_delete, file=file_id)
        except PlatformError:
            log.warning("could not delete preview file %s", file_id, exc_info=True)

    async def _replies(self, place: Place) -> list[dict]:
        """The thread's messages, oldest first (conversations.replies, up to MAX_REPLY_PAGES)."""
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
        return messages

    async def find_posted(self, place: Place, job_id: str) -> bool:
        """Whether a message in the thread (or the channel's latest, without one) carries a
        result button whose value is `job_id`: the result's buttons say which job it is."""
        if place.thread:
            messages = await self._replies(place)
        else:
            resp = await self._call(
                self._client.conversations_history, channel=place.channel, limit=200
            )
            messages = list(resp.get("messages") or [])
        return any(_carries(message, job_id) for message in messages)

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        """Images in the thread, newest first, read with conversations.replies."""
        if not place.thread:
            return []
        messages = await self._replies(place)
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


def _carries(message: dict, job_id: str) -> bool:
    """Whether `message` has one of a result's buttons (RESULT_ACTIONS) for `job_id`."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or [] if block.get("type") == "actions" else []:
            action = parse_action_id(str(element.get("action_id") or ""))
            if action in RESULT_ACTIONS and element.get("value") == job_id:
                return True
    return False


def _with_thread(place: Place, thread: str) -> Place:
    return Place(
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        user=place.user,
        thread=thread,
    )
