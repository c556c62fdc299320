"""Which image `/edit` means: the newest image posted in the channel lately (pure, no I/O).

Slash commands carry no files, so `/edit make it warmer` edits what the channel shows: the
caller's own newest image post of the last RECENT_S seconds, else anyone's newest in that
window. The messages come from conversations.history (newest first, top-level posts only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.slack.payloads import SlackFile

RECENT_S = 30 * 60
"""How far back `/edit` looks for an image: 30 minutes."""
HISTORY_LIMIT = 100
"""Messages read from conversations.history (one page)."""
PICKABLE = 5
"""Channel images the /edit modal offers to pick from."""


@dataclass(frozen=True)
class ImagePost:
    """A top-level channel message with images: its ts (the thread it anchors), who posted it
    and its image files, in the order they were posted."""

    ts: str
    user: str
    files: tuple[SlackFile, ...]

    @property
    def name(self) -> str:
        """The first image's name, as the person saw it in the channel."""
        first = self.files[0]
        return str(first.get("name") or first.get("title") or "the image")


def image_files(message: Mapping[str, Any]) -> tuple[SlackFile, ...]:
    """The message's files that are images and can be downloaded."""
    out: list[SlackFile] = []
    for f in message.get("files") or ():
        mime = str(f.get("mimetype") or "")
        if mime.startswith("image/") and (f.get("url_private_download") or f.get("url_private")):
            out.append(f)
    return tuple(out)


def image_posts(
    messages: Iterable[Mapping[str, Any]],
    *,
    now: float,
    bot_user: str | None = None,
    window_s: float = RECENT_S,
) -> list[ImagePost]:
    """People's posts with images from the last `window_s` seconds, newest first.

    editbot's own posts (a budget chart) and other bots' are not what a person means.
    """
    posts: list[ImagePost] = []
    for m in messages:
        files = image_files(m)
        ts = str(m.get("ts") or "")
        if not files or not ts or now - _seconds(ts) > window_s:
            continue
        if m.get("bot_id") or (bot_user and m.get("user") == bot_user):
            continue
        posts.append(ImagePost(ts=ts, user=str(m.get("user") or ""), files=files))
    posts.sort(key=lambda p: _seconds(p.ts), reverse=True)
    return posts


def latest_image(posts: Sequence[ImagePost], *, user: str) -> ImagePost | None:
    """The caller's own newest image post, else anyone's newest (posts are newest first)."""
    own = next((p for p in posts if p.user == user), None)
    return own or (posts[0] if posts else None)


def posted_ago(ts: str, *, now: float) -> str:
    """`just now`, `1 min ago`, `12 min ago`, `2 h ago`: how long ago a message was posted."""
    seconds = max(0, int(now - _seconds(ts)))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def editing_note(post: ImagePost, *, now: float) -> str:
    """The note the caller gets: "Editing IMG_2041.jpg, posted 1 min ago"."""
    return f"Editing {post.name}, posted {posted_ago(post.ts, now=now)}."


def _seconds(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return 0.0
