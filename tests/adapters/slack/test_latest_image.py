"""Which image `/edit` means, on plain conversations.history data."""

from __future__ import annotations

from adapters.slack.latest_image import image_posts, latest_image, posted_ago

NOW = 1_700_000_000.0


def post(ts: float, user: str, *names: str, mime: str = "image/png", **extra: object) -> dict:
    files = [
        {"id": n, "name": n, "mimetype": mime, "url_private_download": f"u/{n}"} for n in names
    ]
    return {"ts": f"{ts:.6f}", "user": user, "files": files, **extra}


def test_only_recent_image_posts_of_people_count_newest_first() -> None:
    messages = [
        post(NOW - 10, "U1", "a.png"),
        post(NOW - 5, "U2", "doc.pdf", mime="application/pdf"),  # not an image
        post(NOW - 3, "UBOT", "chart.png"),  # editbot's own
        post(NOW - 2, "U3", "bot.png", bot_id="B9"),  # another bot's
        post(NOW - 40 * 60, "U1", "old.png"),  # older than 30 minutes
        post(NOW - 100, "U2", "b.png", "c.png"),
        {"ts": f"{NOW - 1:.6f}", "user": "U1", "text": "no files"},
    ]
    posts = image_posts(messages, now=NOW, bot_user="UBOT")
    assert [p.name for p in posts] == ["a.png", "b.png"]
    assert [f["name"] for f in posts[1].files] == ["b.png", "c.png"]


def test_the_callers_own_post_wins_else_the_newest() -> None:
    posts = image_posts(
        [post(NOW - 10, "U2", "theirs.png"), post(NOW - 600, "U1", "mine.png")], now=NOW
    )
    assert latest_image(posts, user="U1").name == "mine.png"  # type: ignore[union-attr]
    assert latest_image(posts, user="U9").name == "theirs.png"  # type: ignore[union-attr]
    assert latest_image([], user="U1") is None


def test_posted_ago_reads_as_people_say_it() -> None:
    ts = f"{NOW:.6f}"
    assert posted_ago(ts, now=NOW + 20) == "just now"
    assert posted_ago(ts, now=NOW + 70) == "1 min ago"
    assert posted_ago(ts, now=NOW + 25 * 60) == "25 min ago"
    assert posted_ago(ts, now=NOW + 3 * 3600) == "3 h ago"
