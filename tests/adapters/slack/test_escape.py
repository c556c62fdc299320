"""Slack escaping: no markup survives but the requester's mention (and, privately, names)."""

from __future__ import annotations

from adapters.slack.escape import escape, outgoing, private


def test_everything_that_slack_reads_as_markup_is_escaped() -> None:
    text = "<!channel> <!here> <!subteam^S1> <@U999> <#C1> <https://x|y> a&b &lt;"
    assert escape(text) == (
        "&lt;!channel&gt; &lt;!here&gt; &lt;!subteam^S1&gt; &lt;@U999&gt; &lt;#C1&gt; "
        "&lt;https://x|y&gt; a&amp;b &amp;lt;"
    )


def test_only_the_requesters_mention_is_kept() -> None:
    text = "<@U0001> asked: <@U999> <!channel> <@U0001|alias>"
    assert outgoing(text, requester="U0001") == (
        "<@U0001> asked: &lt;@U999&gt; &lt;!channel&gt; &lt;@U0001|alias&gt;"
    )
    assert outgoing(text, requester=None).startswith("&lt;@U0001&gt;")
    # Something that is not a Slack user id cannot widen what is kept.
    assert outgoing("<!channel>", requester="!channel") == "&lt;!channel&gt;"


def test_private_text_keeps_names_but_not_broadcasts() -> None:
    assert private("<@U0002> spent $3 <!here>") == "<@U0002> spent $3 &lt;!here&gt;"
