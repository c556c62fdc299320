"""editbot's buttons as DynamicItems: the custom_id carries action and job id, so a press still
routes after a restart (no View state needs to survive)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, cast, runtime_checkable

import discord

from bot.core.ports import Action, ActionButton

CUSTOM_ID_TEMPLATE = r"editbot:(?P<action>[a-z]+):(?P<job>[0-9a-f]+)(?::(?P<index>[1-9][0-9]?))?"

_STYLES = {
    Action.CONFIRM: discord.ButtonStyle.success,
    Action.CANCEL: discord.ButtonStyle.danger,
    Action.HIGH_QUALITY: discord.ButtonStyle.primary,
    Action.CHEAPER: discord.ButtonStyle.primary,
}

_ROWS = {Action.USE: 0, Action.VARY: 1}

_LABELS = {
    Action.RETRY: "Retry",
    Action.UNDO: "Undo",
    Action.HIGH_QUALITY: "High quality",
    Action.CONFIRM: "Confirm",
    Action.CANCEL: "Cancel",
}


@runtime_checkable
class PressHandler(Protocol):
    """The client a button hands its press to (adapters.discord.bot.EditBot)."""

    async def handle_press(
        self,
        interaction: discord.Interaction,
        *,
        action: Action,
        job_id: str,
        index: int | None = None,
    ) -> None: ...


def custom_id(action: Action, job_id: str, index: int | None = None) -> str:
    """`editbot:<action>:<job id>[:<image of a batch>]`; Discord allows 100 characters."""
    value = f"editbot:{action.value}:{job_id}" + (f":{index}" if index is not None else "")
    if not re.fullmatch(CUSTOM_ID_TEMPLATE, value) or len(value) > 100:
        raise ValueError(f"job id {job_id!r} can't be carried in a button custom_id")
    return value


class EditbotButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID_TEMPLATE):
    """Retry, Undo, High quality, Confirm, Cancel, Use N, Vary N or a refusal's cheaper edit
    N for one job."""

    def __init__(
        self, action: Action, job_id: str, *, label: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or _LABELS.get(action, action.value),
                style=_STYLES.get(action, discord.ButtonStyle.secondary),
                custom_id=custom_id(action, job_id, index),
                # A batch's Use N on one row and its Vary N on the next.
                row=_ROWS.get(action),
            )
        )
        self.action = action
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> EditbotButton:
        # An action this version does not know raises here; discord.py logs and drops the press.
        action = Action(match["action"])
        index = int(match["index"]) if match["index"] else None
        return cls(action, match["job"], label=getattr(item, "label", None), index=index)

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if not isinstance(client, PressHandler):
            return
        await cast(PressHandler, client).handle_press(
            interaction, action=self.action, job_id=self.job_id, index=self.index
        )


def actions_view(actions: Sequence[ActionButton]) -> discord.ui.View | None:
    """A persistent View (timeout=None) holding one button per action; None when there are none."""
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for button in actions:
        view.add_item(
            EditbotButton(button.action, button.job_id, label=button.label, index=button.index)
        )
    return view
