"""The Home tab's queries: a person's recent jobs, and a workspace's channels with spend or a
budget of their own."""

from __future__ import annotations

from datetime import timedelta

from storage.budget_reports import channel_scopes
from storage.columns import utcnow
from storage.db import create_engine, session_factory, write_session
from storage.models import BudgetPolicy, Job, Usage
from storage.user_edits import recent_jobs


def job(user: str, prompt: str, *, workspace: str = "T1", minutes_ago: int = 0) -> Job:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return Job(
        platform="slack",
        workspace=workspace,
        channel="C1",
        user=user,
        scope=f"slack:{workspace}:C1",
        prompt=prompt,
        provider="openai",
        created_at=at,
        updated_at=at,
    )


async def test_recent_jobs_are_the_persons_own_in_the_workspace_newest_first(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with write_session(sessions) as session:
            for row in (
                job("U1", "old", minutes_ago=30),
                job("U1", "new", minutes_ago=1),
                job("U1", "middle", minutes_ago=10),
                job("U2", "someone else's"),
                job("U1", "other workspace", workspace="T2"),
            ):
                session.add(row)
        async with sessions() as session:
            jobs = await recent_jobs(session, platform="slack", workspace="T1", user="U1", limit=2)
    finally:
        await engine.dispose()
    assert [j.prompt for j in jobs] == ["new", "middle"]


async def test_channel_scopes_are_channels_with_spend_or_a_budget(db_url: str) -> None:
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with write_session(sessions) as session:
            session.add(Usage(scope="slack:T1:C1", period_key="2026-12", spent_micros=5))
            session.add(Usage(scope="slack:T1:C1|user:U1", period_key="2026-12", spent_micros=5))
            session.add(Usage(scope="slack:T2:C9", period_key="2026-12", spent_micros=5))
            for scope in ("slack:T1:C2", "slack:T1:*", "slack:T1:C1"):
                session.add(BudgetPolicy(scope=scope, period="month", cap_micros=1))
        async with sessions() as session:
            scopes = await channel_scopes(session, prefix="slack:T1:")
    finally:
        await engine.dispose()
    assert scopes == ["slack:T1:C1", "slack:T1:C2"]
