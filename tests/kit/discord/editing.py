"""Message edits and deletes for the Discord backend: what dpytest does not do the way editbot
needs. Edits go to the stored message (dpytest's edit needs a full Message; production edits
through a PartialMessage), read back from `payload_json` when they carry files; deletes remove
the message from what the channel shows. Every send, edit and delete is kept in `order`."""

from __future__ import annotations

import json
from typing import Any

import discord
from discord.ext.test import backend as back


class EditingHttp(back.FakeHttp):
    """dpytest's FakeHttp with edits (text, components, files) and deletes of sent messages."""

    edits: list[tuple[int, dict[str, Any]]]
    """Every edit: (message id, payload)."""
    edit_files: list[tuple[int, list[tuple[str, bytes]]]]
    """Files sent with message edits: (message id, [(filename, bytes)])."""
    deleted: list[int]
    """Ids of messages the bot deleted."""
    order: list[tuple[str, int]]
    """Every send, edit and delete as ("send" | "edit" | "edit+files" | "delete", message id)."""

    async def edit_message(self, channel_id: int, message_id: int, **fields: Any) -> Any:
        params = fields["params"]
        payload = params.payload
        if payload is None and params.multipart:  # an edit with files: payload_json, as sent
            for part in params.multipart:
                if part.get("name") == "payload_json":
                    payload = json.loads(part["value"])
        payload = payload or {}
        stored = back._cur_config.messages.get(channel_id, [])
        for data in stored:
            if data["id"] == message_id:
                data.update({k: v for k, v in payload.items() if k in ("content", "components")})
                data["edited_timestamp"] = discord.utils.utcnow().isoformat()
                self.edits.append((message_id, payload))
                self.order.append(("edit+files" if params.files else "edit", message_id))
                if params.files:
                    for f in params.files:
                        f.reset()
                    self.edit_files.append(
                        (message_id, [(f.filename, f.fp.read()) for f in params.files])
                    )
                return data
        raise discord.NotFound(back.FakeRequest(404, "Not Found"), "Unknown Message")

    async def delete_message(
        self, channel_id: int, message_id: int, *, reason: str | None = None
    ) -> None:
        """Remove a message the bot sent (from what the channel shows) and record it."""
        stored = back._cur_config.messages.get(channel_id, [])
        for data in list(stored):
            if int(data["id"]) == message_id:
                stored.remove(data)
                self.deleted.append(message_id)
                self.order.append(("delete", message_id))
                return
        raise discord.NotFound(back.FakeRequest(404, "Not Found"), "Unknown Message")
