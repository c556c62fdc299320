"""The fake Slack Web API's view of the bot's messages in threads: chat.update and chat.delete
change what a thread shows, as they do in Slack (a mixin of FakeSlackApi)."""

from __future__ import annotations

import json
from typing import Any

BOT_USER_ID = "UBOT"


def _json(value: Any) -> Any:
    """A JSON argument as Slack receives it: a string in a form, a value in a JSON body."""
    return json.loads(value) if isinstance(value, str) else value


class LiveMessages:
    """Needs `threads` (per (channel, thread ts), the messages) and `_next_ts`."""

    threads: dict[tuple[str, str], list[dict[str, Any]]]
    deleted_files: list[str]
    """Ids of the files files.delete removed."""

    def _next_ts(self) -> str:
        raise NotImplementedError

    def bot_messages(self, channel: str, thread: str) -> list[dict[str, Any]]:
        """The bot's messages in a thread as people see them now (updates applied, deleted
        ones gone), oldest first."""
        return [m for m in self.threads.get((channel, thread), []) if m.get("user") == BOT_USER_ID]

    def _find(self, channel: str, ts: str) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        for (ch, _), messages in self.threads.items():
            for message in messages:
                if ch == channel and message.get("ts") == ts:
                    return messages, message
        return None

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._find(str(args["channel"]), str(args["ts"]))
        if found is not None:  # messages the fake never saw posted are answered all the same
            message = found[1]
            message["text"] = args.get("text")
            message["blocks"] = _json(args.get("blocks") or "[]")
            message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text")}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._find(str(args["channel"]), str(args["ts"]))
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        messages, message = found
        messages.remove(message)
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _m_files_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Delete a file the bot uploaded: no thread shows it any more."""
        file_id = str(args["file"])
        self.deleted_files.append(file_id)
        for messages in self.threads.values():
            for message in messages:
                if message.get("files"):
                    message["files"] = [f for f in message["files"] if f["id"] != file_id]
        return {"ok": True}
