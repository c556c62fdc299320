"""The "Edit image" modal: asks for the prompt for a message's images."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

PROMPT_MAX = 4000
"""Discord's limit on a text input's value."""

OnPrompt = Callable[[discord.Interaction, str, Sequence[discord.Attachment]], Awaitable[None]]
"""(modal submit interaction, prompt, the target message's attachments) -> None."""


class EditImageModal(discord.ui.Modal, title="Edit image"):
    """One paragraph field; submitting it hands the prompt and the images to `on_prompt`."""

    prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What should change?",
        style=discord.TextStyle.paragraph,
        placeholder="swap the background for a beige studio wall quality=high",
        max_length=PROMPT_MAX,
    )

    def __init__(self, *, attachments: Sequence[discord.Attachment], on_prompt: OnPrompt) -> None:
        super().__init__(timeout=15 * 60)
        self._attachments = attachments
        self._on_prompt = on_prompt

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_prompt(interaction, self.prompt.value, self._attachments)
