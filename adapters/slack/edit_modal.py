"""Block Kit for `/edit`: its modal, the note naming the image it edits, the request's root post.

Pure builders, no I/O. The modal offers the channel's last few images to pick from and an
optional upload; its selects start from the options typed after `/edit`
(bot.core.options.form_picks), which leave the prompt field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from adapters.slack.escape import outgoing
from adapters.slack.latest_image import ImagePost, posted_ago
from adapters.slack.payloads import ModalMetadata, RecentImage, SlackFile
from adapters.slack.views import (
    COMMAND_VIEW,
    FILETYPES,
    Blocks,
    ModalValues,
    _compact,
    _modal,
    _option_blocks,
    _prompt_block,
    _text,
)
from bot.core.form_options import form_picks

CHOOSE_ACTION = "editbot_choose_image"
"""The note's "Choose another image" button (not under editbot:, which are job buttons)."""
NO_IMAGE = "Upload an image, or pick one of the channel's images above."
_METADATA_LIMIT = 3000
_LABEL_LIMIT = 75  # Slack's limit for an option's text
_VALUE_LIMIT = 2000  # and for a button's value
_MAX_UPLOADS = 10


def command_modal(
    *, channel: str, text: str, max_n: int, recent: Sequence[ImagePost], now: float
) -> dict[str, Any]:
    """The `/edit` modal: a channel image to pick, an optional upload, the prompt, the options."""
    prompt, picks = form_picks(text, max_n=max_n)
    meta: ModalMetadata = {
        "channel": channel,
        "recent": [{"ts": p.ts, "files": [_compact(f) for f in p.files]} for p in recent],
    }
    while len(json.dumps(meta, separators=(",", ":"))) > _METADATA_LIMIT and meta["recent"]:
        meta["recent"] = meta["recent"][:-1]  # offer fewer images rather than fail the modal
    blocks: Blocks = []
    offered = recent[: len(meta["recent"])]
    if offered:
        blocks.append(_pick_block(offered, now=now))
    blocks += [_upload_block(), _prompt_block(prompt), *_option_blocks(max_n, picks)]
    return _modal(COMMAND_VIEW, meta, blocks)


def _pick_block(posts: Sequence[ImagePost], *, now: float) -> dict[str, Any]:
    options = [
        {
            "text": _text(_label(f"{p.name} · posted {posted_ago(p.ts, now=now)}")),
            "value": str(i),
        }
        for i, p in enumerate(posts)
    ]
    return {
        "type": "input",
        "block_id": "pick",
        "optional": True,
        "label": _text("Image from the channel"),
        "element": {"type": "static_select", "action_id": "pick", "options": options},
    }


def _upload_block() -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "images",
        "optional": True,
        "label": _text("Or upload images"),
        "element": {
            "type": "file_input",
            "action_id": "images",
            "filetypes": FILETYPES,
            "max_files": _MAX_UPLOADS,
        },
    }


def _label(text: str) -> str:
    return text if len(text) <= _LABEL_LIMIT else text[: _LABEL_LIMIT - 1] + "…"


def picked_image(meta: ModalMetadata, values: ModalValues) -> RecentImage | None:
    """The channel image picked in the modal, or None."""
    pick = values.get("pick")
    recent = meta.get("recent") or []
    if pick is None or not str(pick).isdigit() or int(pick) >= len(recent):
        return None
    return recent[int(pick)]


def note_blocks(note: str, *, prompt: str) -> Blocks:
    """The ephemeral note naming the image, with a button to choose another one instead.

    The button carries the prompt, so the modal it opens starts from the same text.
    """
    return [
        {"type": "section", "text": _text(note)},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": _text("Choose another image"),
                    "action_id": CHOOSE_ACTION,
                    "value": prompt[:_VALUE_LIMIT],
                }
            ],
        },
    ]


def request_post(*, user: str, prompt: str, files: Sequence[SlackFile]) -> tuple[str, Blocks]:
    """The root post of an edit of uploaded files: who asked, the prompt, the input images.

    Returns the text (the notification's) and the blocks; the images show by file id, so the
    request's before and the thread's after are together.
    """
    text = outgoing(f"<@{user}> asked for an edit: {prompt}".strip(), requester=user)
    blocks: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for f in files[:_MAX_UPLOADS]:
        if f.get("id"):
            name = str(f.get("name") or f.get("title") or "input image")
            blocks.append(
                {"type": "image", "slack_file": {"id": str(f["id"])}, "alt_text": name[:2000]}
            )
    return text, blocks
