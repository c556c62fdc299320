"""claim_many: one claim for several waiting loops takes jobs in the fair order, each once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event

from bot.core.jobs import JobWithInputs, StoredImage
from storage.claims import claim_in, claim_many
from storage.db import Sessions, autocommit_connection, is_postgres, write_session
from storage.queue import enqueue
from tests.storage.test_queue import T0, add, claim, make_job

LATER = T0 + timedelta(hours=1)


async def test_a_claim_of_three_takes_the_three_a_claim_of_one_would_take_next(
    sessions: Sessions,
) -> None:
    jobs = [make_job("A", i) for i in range(4)] + [make_job("B", 10 + i) for i in range(2)]
    await add(sessions, jobs)
    # The fair order: A0, B0 (each channel's first), A1, B1, A2, A3.
    first = await claim_many(sessions, owner="w", lease_s=60, count=3, now=LATER)
    assert [c.spec.prompt for c in first] == ["A edit 0", "B edit 10", "A edit 1"]
    assert {c.spec.attempts for c in first} == {1}
    rest = await claim_many(sessions, owner="w", lease_s=60, count=5, now=LATER)
    assert [c.spec.prompt for c in rest] == ["B edit 11", "A edit 2", "A edit 3"]
    assert await claim_many(sessions, owner="w", lease_s=60, count=5, now=LATER) == []
    assert await claim(sessions, owner="w", lease_s=60, now=LATER) is None


async def test_each_claimed_job_comes_with_its_own_inputs_and_mask(sessions: Sessions) -> None:
    def image(name: str) -> StoredImage:
        return StoredImage(sha256=name * 4, mime="image/png", width=8, height=8)

    plain, masked, bare = (make_job("A", i) for i in range(3))
    async with write_session(sessions) as session:
        await enqueue(
            session,
            [
                JobWithInputs(plain, (image("a"), image("b"))),
                JobWithInputs(masked, (image("c"),), image("m")),
                JobWithInputs(bare),
            ],
        )
    claimed = await claim_many(sessions, owner="w", lease_s=60, count=3, now=LATER)
    by_id = {c.spec.id: c for c in claimed}
    assert by_id[plain.id].inputs == (image("a"), image("b")) and by_id[plain.id].mask is None
    assert by_id[masked.id].inputs == (image("c"),) and by_id[masked.id].mask == image("m")
    assert by_id[bare.id].inputs == () and by_id[bare.id].mask is None


async def test_concurrent_claims_of_several_take_each_job_once(sessions: Sessions) -> None:
    jobs = [make_job(f"C{i % 4}", i) for i in range(50)]
    await add(sessions, jobs)
    claimed: list[str] = []

    async def loop(owner: str, count: int) -> None:
        while batch := await claim_many(sessions, owner=owner, lease_s=60, count=count):
            assert len(batch) <= count
            claimed.extend(c.spec.id for c in batch)

    await asyncio.gather(*(loop(f"w{i}", 1 + i % 4) for i in range(6)))
    assert sorted(claimed) == sorted(j.id for j in jobs)


async def test_on_postgres_a_claim_with_its_inputs_is_one_statement_and_no_transaction(
    sessions: Sessions,
) -> None:
    await add(sessions, [make_job("A", i) for i in range(3)])
    async with sessions() as session:
        postgres = is_postgres(session)
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine
    listen = lambda *a: seen.append(a[2].split()[0])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        claimed = await claim_many(sessions, owner="w", lease_s=60, count=2, now=LATER)
        status = None
        if postgres:
            async with autocommit_connection(sessions) as connection:
                [third] = await claim_in(connection, owner="w", lease_s=60, count=2, now=LATER)
                raw = await connection.get_raw_connection()
                status = raw.driver_connection.info.transaction_status
        else:
            async with write_session(sessions) as session:
                [third] = await claim_in(session, owner="w", lease_s=60, count=2, now=LATER)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert [c.spec.prompt for c in [*claimed, third]] == ["A edit 0", "A edit 1", "A edit 2"]
    if postgres:
        from psycopg.pq import TransactionStatus

        # The UPDATE in a CTE with the inputs read beside it: committed by itself, so no
        # BEGIN went before it and no COMMIT is left to send.
        assert seen == ["WITH", "WITH"] and status == TransactionStatus.IDLE
    else:
        assert seen == ["WITH", "SELECT"] * 2  # the claim, then its inputs, in BEGIN IMMEDIATE
