"""The fake Web API's methods about people and places: DMs, people, channel names, permalinks."""

from __future__ import annotations

from typing import Any


class PeopleMethods:
    """conversations.open, users.list, conversations.info and chat.getPermalink for
    FakeSlackApi."""

    channel_names: dict[str, str]
    users: dict[str, dict[str, Any]]
    users_page: int = 200
    """users.list answers at most this many people a page (set it low to make tests page)."""

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # A DM channel id per person: "D" + the user id, so tests can tell whose DM it is.
        return {"ok": True, "channel": {"id": "D" + str(args["users"]), "is_im": True}}

    def _m_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Everyone in `users` (what users.info answers), a page at a time: the cursor is the
        offset of the next page."""
        people = [
            {"id": user, "is_admin": False, "is_owner": False, "is_bot": False, **info}
            for user, info in self.users.items()
        ]
        start = int(args.get("cursor") or 0)
        size = min(int(args.get("limit") or self.users_page), self.users_page)
        following = start + size if start + size < len(people) else None
        return {
            "ok": True,
            "members": people[start : start + size],
            "response_metadata": {"next_cursor": str(following) if following else ""},
        }

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        return {"ok": True, "channel": {"id": channel, "name": self.channel_names.get(channel)}}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args["message_ts"]).replace(".", "")
        link = f"https://editbot-test.slack.com/archives/{args['channel']}/p{ts}"
        return {"ok": True, "channel": args["channel"], "permalink": link}
