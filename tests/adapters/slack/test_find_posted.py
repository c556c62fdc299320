"""SlackChatPort.find_posted against the fake Web API: a result is known by its buttons' job
id in the thread (conversations.replies), a question's buttons do not count."""

from __future__ import annotations

from dataclasses import replace

import httpx

from bot.core.ports import Action, ActionButton, ResultImage
from tests.adapters.slack.test_chat import PLACE, port
from tests.kit.images import split
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import TOKEN


async def test_a_result_or_failure_is_found_by_its_job_id_in_its_own_thread() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        chat = port(api, http)
        assert not await chat.find_posted(PLACE, "j1")  # an empty thread
        confirm = ActionButton(Action.CONFIRM, "j1", "Confirm")
        await chat.post_text(PLACE, "Run it for $0.40?", actions=[confirm])
        assert not await chat.find_posted(PLACE, "j1")  # a question, not its result

        image = ResultImage(data=split(), mime="image/png", filename="a.png", width=320, height=256)
        retry = ActionButton(Action.RETRY, "j1", "Retry")
        await chat.post_result(PLACE, text="v1", images=[image], actions=[retry], notify="U1")
        await chat.post_result(PLACE, text="It failed", actions=[replace(retry, job_id="j3")])
        assert await chat.find_posted(PLACE, "j1") and await chat.find_posted(PLACE, "j3")
        assert not await chat.find_posted(PLACE, "j2")
        assert not await chat.find_posted(replace(PLACE, thread="999.000"), "j1")
        replies = api.named("conversations.replies")
        assert replies and {r["ts"] for r in replies} == {"111.222", "999.000"}
