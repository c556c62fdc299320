"""The fake Slack Web API's channel history, Home views, file listing and OAuth installs
(a part of tests.kit.slack.api.FakeSlackApi, kept apart to keep that file short)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.kit.slack.live_api import BOT_USER_ID


class ChannelsAndInstalls:
    """conversations.history, files.list, views.publish and oauth.v2.access for FakeSlackApi.

    Installs: set `client_id` / `client_secret`, put a code in `oauth_codes`; oauth.v2.access
    then adds a token of that workspace to `teams` (and a refresh token for rotation).
    """

    threads: dict[tuple[str, str], list[dict[str, Any]]]
    uploads: list[Any]
    teams: dict[str, str]
    oauth_codes: dict[str, str]
    refresh_tokens: dict[str, str]
    client_id: str
    client_secret: str
    published: dict[str, dict[str, Any]]
    _ids: itertools.count[int]

    if TYPE_CHECKING:

        def add_thread_message(
            self, channel: str, thread: str, message: dict[str, Any]
        ) -> None: ...

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's top-level posts (thread roots), newest first, from `oldest` on."""
        channel = str(args["channel"])
        oldest = float(args.get("oldest") or 0)
        roots = [
            thread[0]
            for (ch, ts), thread in self.threads.items()
            if ch == channel and thread and thread[0].get("ts") == ts
        ]
        roots = [m for m in roots if float(m["ts"]) >= oldest]
        roots.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = int(args.get("limit") or 100)
        return {"ok": True, "messages": roots[:limit], "has_more": len(roots) > limit}

    def post_in_channel(self, channel: str, message: dict[str, Any]) -> None:
        """A person's post at the top of `channel` (conversations.history lists it)."""
        self.add_thread_message(channel, str(message["ts"]), message)

    def _m_files_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """The files editbot uploaded, newest first, each with where it was shared."""
        files = []
        for up in reversed(self.uploads):
            share = {"ts": up.thread_ts or "", "thread_ts": up.thread_ts} if up.thread_ts else {}
            shares = {"public": {up.channel: [share]}} if up.channel and share else {}
            files.append(
                {"id": up.file_id, "name": up.filename, "user": BOT_USER_ID, "shares": shares}
            )
        count = int(args.get("count") or 100)
        return {"ok": True, "files": files[:count]}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        self.published[str(args["user_id"])] = view
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):04d}"}}

    def _oauth_v2_access(self, request: web.Request, args: dict[str, Any]) -> dict[str, Any]:
        """Exchange an install's code (or a refresh token) for a workspace's bot token."""
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        if args.get("grant_type") == "refresh_token":
            team = self.refresh_tokens.pop(str(args.get("refresh_token")), None)
        else:
            team = self.oauth_codes.pop(str(args.get("code")), None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        n = next(self._ids)
        token, refresh = f"xoxe.xoxb-{team}-{n}", f"xoxe-1-{team}-{n}"
        self.teams[token] = team
        self.refresh_tokens[refresh] = team
        return {
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": "U" + team},
            "scope": "app_mentions:read,chat:write,commands",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": BOT_USER_ID,
            "refresh_token": refresh,
            "expires_in": 43200,
            "team": {"id": team, "name": f"workspace {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }
