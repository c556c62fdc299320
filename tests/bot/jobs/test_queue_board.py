"""The queue's status lines: refreshed once per claim while the allowance lasts, then at a
bounded rate, however fast the queue drains."""

from __future__ import annotations

import asyncio

from bot.jobs.progress import QueueBoard
from storage.blobs import FileBlobStore
from storage.db import Sessions
from tests.kit.chat import FakeChat
from tests.kit.workers import enqueue_jobs


class CountedBoard(QueueBoard):
    """A QueueBoard that counts the refreshes it ran."""

    refreshes = 0

    async def refresh(self) -> None:
        self.refreshes += 1
        await super().refresh()


async def test_claims_past_the_burst_wait_for_the_rate(
    sessions: Sessions, blobs: FileBlobStore
) -> None:
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=3, chat=chat)
    board = CountedBoard(sessions=sessions, chats={"slack": chat}, burst=2, per_s=1e-6)
    for _ in range(2):
        board.moved()
        await board.wait()
    assert board.refreshes == 2
    board.moved()
    board.moved()  # covered by the refresh that is waiting
    for _ in range(20):
        await asyncio.sleep(0)
    assert board.refreshes == 2
    assert board._task is not None and not board._task.done()
    board._task.cancel()


async def test_the_allowance_comes_back_at_the_rate(
    sessions: Sessions, blobs: FileBlobStore
) -> None:
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=3, chat=chat)
    board = CountedBoard(sessions=sessions, chats={"slack": chat}, burst=1, per_s=1000.0)
    for _ in range(3):
        board.moved()
        await board.wait()
    assert board.refreshes == 3
