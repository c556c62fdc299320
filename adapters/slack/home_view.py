"""Block Kit for the Home tab and the admins' budget settings modal (pure, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.slack.escape import escape
from adapters.slack.views import Blocks, _text
from bot.core.domain import format_usd
from bot.core.home import ChannelBudget, EditSummary, HomeView

SETTINGS_ACTION = "editbot_budget_settings"
"""An admin's "Budget settings" button on a channel of the Home tab (value: the channel)."""
SETTINGS_VIEW = "editbot_budget_settings"
"""The budget settings modal's callback id."""
PERIODS = ("day", "week", "month", "none")
_PERIOD_WORDS = {"day": "today", "week": "this week", "month": "this month", "none": "in total"}
_STATUS_WORDS = {"succeeded": "done", "awaiting_confirm": "waiting for Confirm"}
_PROMPT_SHOWN = 150
_MAX_CHANNELS = 40  # a Home view holds 100 blocks


def home_view(
    view: HomeView,
    *,
    thumbnails: Mapping[tuple[str, str], str],
    links: Mapping[str, str],
    note: str | None = None,
) -> dict[str, Any]:
    """The Home tab: recent edits (thumbnail, prompt, channel, cost, thread link), the budgets
    of the person's channels, every channel's spend for admins, and the help text.

    Args:
        thumbnails: Slack file ids of results by (channel, thread).
        links: thread permalinks by job id.
        note: what the last budget change said, shown at the top.
    """
    blocks: Blocks = []
    if note:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(note))]})
    blocks.append(_header("Your recent edits"))
    if not view.edits:
        blocks.append(_section("No edits yet: mention @editbot on a post with an image."))
    for edit in view.edits:
        blocks.append(_edit_block(edit, thumbnails=thumbnails, link=links.get(edit.job_id)))
    if view.budgets:
        blocks += [{"type": "divider"}, _header("Your channels' budgets")]
        blocks += [_section(_budget_line(b)) for b in view.budgets]
    if view.admin:
        blocks += [{"type": "divider"}, _header("Every channel this period (admin)")]
        if not view.all_channels:
            blocks.append(_section("No channel has spent anything or has a budget of its own."))
        for b in view.all_channels[:_MAX_CHANNELS]:
            blocks.append(_admin_block(b))
    blocks += [{"type": "divider"}, _header("How to use editbot"), _section(escape(view.help_text))]
    return {"type": "home", "blocks": blocks}


def _edit_block(
    edit: EditSummary, *, thumbnails: Mapping[tuple[str, str], str], link: str | None
) -> dict[str, Any]:
    prompt = edit.prompt if len(edit.prompt) <= _PROMPT_SHOWN else edit.prompt[:149] + "…"
    status = _STATUS_WORDS.get(edit.status, edit.status)
    facts = [f"<#{edit.place.channel}>", status, format_usd(edit.cost_micros)]
    if link:
        facts.append(f"<{link}|Open the thread>")
    block = _section(f"*{escape(prompt)}*\n" + " · ".join(facts))
    file_id = thumbnails.get((edit.place.channel, edit.place.thread or ""))
    if file_id:
        block["accessory"] = {
            "type": "image",
            "slack_file": {"id": file_id},
            "alt_text": prompt[:2000] or "result",
        }
    return block


def _budget_line(b: ChannelBudget) -> str:
    line = (
        f"<#{b.channel}>: {format_usd(b.spent_micros)} spent, {format_usd(b.left_micros)} left "
        f"of {format_usd(b.cap_micros)} {_PERIOD_WORDS.get(b.period, b.period)}"
    )
    if b.reserved_micros:
        line += f" ({format_usd(b.reserved_micros)} running)"
    if b.user_cap_micros is not None:
        line += f"; {format_usd(b.user_cap_micros)} per person"
    return line


def _admin_block(b: ChannelBudget) -> dict[str, Any]:
    block = _section(_budget_line(b))
    block["accessory"] = {
        "type": "button",
        "text": _text("Budget settings"),
        "action_id": SETTINGS_ACTION,
        "value": b.channel,
    }
    return block


def settings_modal(budget: ChannelBudget) -> dict[str, Any]:
    """The admins' modal for one channel: cap, period and per-person cap, from its current."""
    user_cap = budget.user_cap_micros
    return {
        "type": "modal",
        "callback_id": SETTINGS_VIEW,
        "title": _text("Budget settings"),
        "submit": _text("Save"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps({"channel": budget.channel}),
        "blocks": [
            _section(f"Budget of <#{budget.channel}>"),
            _amount("cap", "Cap in dollars", budget.cap_micros, optional=False),
            {
                "type": "input",
                "block_id": "period",
                "label": _text("Period"),
                "element": {
                    "type": "static_select",
                    "action_id": "period",
                    "options": [{"text": _text(p), "value": p} for p in PERIODS],
                    "initial_option": {"text": _text(budget.period), "value": budget.period},
                },
            },
            _amount("user_cap", "Cap per person in dollars (empty: none)", user_cap),
        ],
    }


def settings_command(values: Mapping[str, str | None]) -> str:
    """The modal's values as the budget command's arguments: `set 50 month user=10`."""
    words = ["set", (values.get("cap") or "").strip() or "?", values.get("period") or "month"]
    user_cap = (values.get("user_cap") or "").strip()
    words.append(f"user={user_cap}" if user_cap else "user=none")
    return " ".join(words)


def _amount(block_id: str, label: str, micros: int | None, *, optional: bool = True) -> dict:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id}
    if micros is not None:
        element["initial_value"] = format_usd(micros).removeprefix("$").replace(",", "")
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _text(label),
        "element": element,
    }


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _text(text)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}
