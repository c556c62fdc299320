"""Block Kit builders and view-state parsing for editbot's Slack surfaces (pure, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from adapters.slack.payloads import ModalMetadata, SlackFile, View
from bot.core.domain import ASPECTS, OptionPicks, Quality, Resolution
from bot.core.ports import Action, ActionButton

ACTION_PREFIX = "editbot:"
SHORTCUT_CALLBACK = "edit_image"
SHORTCUT_VIEW = "editbot_shortcut"
COMMAND_VIEW = "editbot_command"
FILETYPES = ["png", "jpg", "jpeg", "webp", "gif"]
SECTION_LIMIT = 3000  # Slack refuses section text longer than this
_METADATA_LIMIT = 3000  # private_metadata's size limit
_METADATA_FILE_KEYS = ("id", "name", "mimetype", "size", "url_private_download")

Blocks = list[dict[str, Any]]


class ModalValues(TypedDict, total=False):
    """A submitted modal's values by action id (view_values); absent when not in the modal."""

    prompt: str | None
    quality: str | None
    aspect: str | None
    resolution: str | None
    n: str | None
    images: list[SlackFile]
    pick: str | None  # the /edit modal: which channel image (an index into metadata's recent)


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": _text(label or value), "value": value}


def _select(block_id: str, label: str, values: Sequence[str], initial: str) -> dict[str, Any]:
    options = [_option(v) for v in values]
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {
            "type": "static_select",
            "action_id": block_id,
            "options": options,
            "initial_option": _option(initial),
        },
    }


def _option_blocks(max_n: int, picks: OptionPicks | None = None) -> Blocks:
    """The selects, each starting from `picks` (what the typed text said) or its default."""
    picks = picks or OptionPicks()
    quality = (picks.quality or Quality.MEDIUM).value
    resolution = (picks.resolution or Resolution.R1K).value
    n = picks.n if picks.n is not None and 1 <= picks.n <= max_n else 1
    return [
        _select("quality", "Quality", [q.value for q in Quality], quality),
        _select("aspect", "Aspect ratio", ["auto", *ASPECTS], picks.aspect or "auto"),
        _select("resolution", "Resolution", [r.value for r in Resolution], resolution),
        _select("n", "Number of results", [str(i) for i in range(1, max_n + 1)], str(n)),
    ]


def _prompt_block(initial: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "prompt", "multiline": True}
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": "prompt",
        "label": _text("What to change"),
        "element": element,
    }


def _modal(callback_id: str, metadata: ModalMetadata, blocks: Blocks) -> dict[str, Any]:
    private = json.dumps(metadata, separators=(",", ":"))
    if len(private) > _METADATA_LIMIT:
        raise ValueError("modal metadata too long")
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text("Edit image"),
        "submit": _text("Edit"),
        "close": _text("Cancel"),
        "private_metadata": private,
        "blocks": blocks,
    }


def shortcut_modal(
    *, channel: str, thread: str, message: str, files: Sequence[SlackFile], max_n: int
) -> dict[str, Any]:
    """The "Edit image" shortcut's modal; the message's place and files ride in its metadata."""
    meta: ModalMetadata = {
        "channel": channel,
        "thread": thread,
        "message": message,
        "files": [_compact(f) for f in files],
    }
    while len(json.dumps(meta, separators=(",", ":"))) > _METADATA_LIMIT and meta["files"]:
        meta["files"] = meta["files"][:-1]  # keep the first images rather than fail the modal
    return _modal(SHORTCUT_VIEW, meta, [_prompt_block(), *_option_blocks(max_n)])


def _compact(file: SlackFile) -> SlackFile:
    """The file with only what a download needs, to fit more files in the metadata."""
    fields: Mapping[str, object] = file
    return cast(SlackFile, {k: fields[k] for k in _METADATA_FILE_KEYS if k in fields})


def view_metadata(view: View) -> ModalMetadata:
    """The metadata a modal was opened with."""
    raw = view.get("private_metadata") or "{}"
    data = json.loads(raw)
    return cast(ModalMetadata, data) if isinstance(data, dict) else {}


def view_values(view: View) -> ModalValues:
    """Submitted values by action id: text for inputs, value for selects, file lists for files."""
    out: dict[str, Any] = {}
    for block in (view.get("state") or {}).get("values", {}).values():
        for action_id, element in block.items():
            kind = element.get("type")
            if kind == "static_select":
                selected = element.get("selected_option") or {}
                out[action_id] = selected.get("value")
            elif kind == "file_input":
                out[action_id] = list(element.get("files") or [])
            else:
                out[action_id] = element.get("value")
    # Keyed by action id, which editbot's modals name after the values (see _option_blocks).
    return cast(ModalValues, out)


def modal_picks(values: ModalValues) -> OptionPicks:
    """The modal's selects as the options the person picked (unknown values: none picked)."""
    aspect = values.get("aspect")
    quality, resolution, n = values.get("quality"), values.get("resolution"), values.get("n")
    try:
        picked_quality = Quality(quality) if quality else None
        picked_resolution = Resolution(resolution) if resolution else None
        picked_n = int(n) if n else None
    except ValueError:
        return OptionPicks()
    return OptionPicks(
        quality=picked_quality,
        aspect=aspect if aspect in ASPECTS else None,
        resolution=picked_resolution,
        n=picked_n,
    )


def modal_prompt(values: ModalValues) -> str:
    """The text typed in a modal's prompt field (it may carry inline options too)."""
    return str(values.get("prompt") or "").strip()


def message_blocks(text: str, actions: Sequence[ActionButton]) -> Blocks:
    """A text section, and a row of editbot's buttons when there are any."""
    shown = text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
    blocks: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": shown}}]
    if actions:
        blocks.append({"type": "actions", "elements": [button(a) for a in actions[:25]]})
    return blocks


def button(action: ActionButton) -> dict[str, Any]:
    """One button; its action id names the action (and the image of a batch: `editbot:use:2`,
    unique within the block as Slack requires) and its value carries the job id."""
    suffix = f":{action.index}" if action.index is not None else ""
    element: dict[str, Any] = {
        "type": "button",
        "text": _text(action.label),
        "action_id": f"{ACTION_PREFIX}{action.action.value}{suffix}",
        "value": action.job_id,
    }
    if action.action is Action.CONFIRM:
        element["style"] = "primary"
    elif action.action is Action.CANCEL:
        element["style"] = "danger"
    return element


def parse_action_id(action_id: str) -> Action | None:
    """`editbot:retry` -> Action.RETRY (`editbot:use:2` -> Action.USE); None for ids that are
    not editbot's."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    try:
        return Action(action_id[len(ACTION_PREFIX) :].partition(":")[0])
    except ValueError:
        return None


def action_index(action_id: str) -> int | None:
    """The image of a batch an action id names (`editbot:use:2` -> 2), else None."""
    _, sep, index = action_id[len(ACTION_PREFIX) :].partition(":")
    return int(index) if sep and index.isdigit() and 1 <= int(index) <= 99 else None
