"""Slack text escaping: what people or providers wrote never becomes a mention or a link.

Slack reads `<!channel>`, `<!here>`, `<!subteam^S1>`, `<@U1>` and `<https://x|label>` in
message text and mrkdwn, and sends them escaped as `&lt;`, `&gt;`, `&amp;`. Every text editbot
posts goes through `outgoing`: all of it escaped, then the one mention editbot means (the person
the message answers) put back.
"""

from __future__ import annotations

import re

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_ESCAPED_USER_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,})&gt;")


def escape(text: str) -> str:
    """`&`, `<` and `>` as Slack wants them in text: nothing in `text` is read as markup."""
    return text.translate(_ESCAPES)


def outgoing(text: str, *, requester: str | None = None) -> str:
    """`text` escaped, with a mention of `requester` (a Slack user id) kept as a mention.

    The requester is the person the message answers: a mention of them notifies nobody else.
    """
    escaped = escape(text)
    if requester and _USER_ID.fullmatch(requester):
        escaped = escaped.replace(f"&lt;@{requester}&gt;", f"<@{requester}>")
    return escaped


def private(text: str) -> str:
    """`text` escaped for an ephemeral message, keeping user mentions as names.

    An ephemeral message notifies nobody, so a mention there only shows a name (budget views
    list people that way); `<!channel>` and links stay escaped all the same.
    """
    return _ESCAPED_USER_MENTION.sub(r"<@\1>", escape(text))
