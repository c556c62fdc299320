"""What delivery posts: one message per edit that notifies the requester, in place of its
status message (a batch's shared status stays and points below)."""

from __future__ import annotations

from bot.core.domain import Place
from bot.core.ports import Action, ActionButton, ResultImage
from bot.jobs.delivery import BATCH_DONE, Delivery, post
from tests.kit.chat import FakeChat
from tests.kit.images import split

PLACE = Place(platform="slack", workspace="W1", channel="C1", user="U1", thread="T1")
IMAGE = ResultImage(data=split(), mime="image/png", filename="pop-v1.png", width=320, height=256)


def delivery(status: str, **kw: object) -> Delivery:
    return Delivery(
        job_id=str(kw.pop("job_id", "j1")),
        place=PLACE,
        status_message_id=status,
        text="v1 · make it pop",
        images=(IMAGE,),
        alt_text="make it pop",
        actions=(ActionButton(Action.RETRY, "j1", "Retry"),),
        version=1,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_result_replaces_its_status_message_and_notifies_the_requester() -> None:
    chat = FakeChat()
    status = await chat.post_text(PLACE, "Editing... 12s")
    await post(chat, delivery(status.message_id))
    [result] = chat.messages
    assert result.images == (IMAGE,) and result.text == "v1 · make it pop"
    assert result.notify == "U1" and [a.action for a in result.actions] == [Action.RETRY]
    assert chat.removed == [status.message_id]


async def test_a_batchs_shared_status_stays_and_says_the_results_are_below() -> None:
    chat = FakeChat()
    status = await chat.post_text(PLACE, "Editing... 12s")
    await post(chat, delivery(status.message_id, shared_status=True))
    await post(chat, delivery(status.message_id, shared_status=True, job_id="j2"))
    shared, *results = chat.messages
    assert shared.ref == status and shared.text == BATCH_DONE and chat.removed == []
    assert len(results) == 2 and all(r.notify == "U1" for r in results)
