"""The fake Web API's methods about people and places: DMs, channel names, permalinks."""

from __future__ import annotations

from typing import Any


class PeopleMethods:
    """conversations.open, conversations.info and chat.getPermalink for FakeSlackApi."""

    channel_names: dict[str, str]

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # A DM channel id per person: "D" + the user id, so tests can tell whose DM it is.
        return {"ok": True, "channel": {"id": "D" + str(args["users"]), "is_im": True}}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        return {"ok": True, "channel": {"id": channel, "name": self.channel_names.get(channel)}}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args["message_ts"]).replace(".", "")
        link = f"https://editbot-test.slack.com/archives/{args['channel']}/p{ts}"
        return {"ok": True, "channel": args["channel"], "permalink": link}
