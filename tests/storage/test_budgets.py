"""Budgets on SQLite and PostgreSQL: caps hold under concurrency, periods, warnings, ledger."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.core.budgets import BudgetDefaults, Refusal, Reservation, period_key, user_scope
from storage.budget_reports import (
    CSV_HEADER,
    daily_spend,
    ledger_csv_rows,
    ledger_since,
    usage_summary,
)
from storage.budgets import refund, reserve_many, settle_usage
from storage.columns import utcnow
from storage.db import Sessions, create_engine, session_factory, write_session
from storage.models import LedgerEntry, LedgerKind, Usage
from storage.policies import set_policy
from storage.sql import table_of
from tests.kit.paths import REPO as REPO_ROOT

SCOPE = "slack:T1:C1"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOT = REPO_ROOT


async def usage_of(sessions: Sessions, scope: str, key: str) -> tuple[int, int]:
    """(spent, reserved) of a usage row, (0, 0) when absent."""
    usage = table_of(Usage)
    async with sessions() as session:
        row = (
            await session.exec(
                select(usage.c.spent_micros, usage.c.reserved_micros).where(
                    usage.c.scope == scope, usage.c.period_key == key
                )
            )
        ).first()
    return (0, 0) if row is None else (row[0], row[1])


async def reserve_one(
    sessions: Sessions,
    job_id: str,
    estimate: int,
    *,
    cap: int = 10_000_000,
    user: str = "U1",
    now: datetime = NOW,
) -> Reservation | Refusal:
    async with write_session(sessions) as session:
        return await reserve_many(
            session,
            scope=SCOPE,
            user=user,
            estimates={job_id: estimate},
            defaults=BudgetDefaults(cap_micros=cap, period="month"),
            now=now,
        )


async def test_fifty_concurrent_reservations_fit_exactly_ten(sessions: Sessions) -> None:
    cap, estimate = 1_000_000, 100_000
    key = period_key("month", NOW)
    seen: list[int] = []

    async def attempt(i: int) -> bool:
        result = await reserve_one(sessions, f"job{i}", estimate, cap=cap, user=f"u{i % 4}")
        spent, reserved = await usage_of(sessions, SCOPE, key)
        seen.append(spent + reserved)
        return isinstance(result, Reservation)

    accepted = await asyncio.gather(*(attempt(i) for i in range(50)))

    assert sum(accepted) == 10
    assert max(seen) <= cap
    assert await usage_of(sessions, SCOPE, key) == (0, cap)
    async with sessions() as session:
        ledger = table_of(LedgerEntry)
        count = (
            await session.exec(select(func.count()).where(ledger.c.kind == LedgerKind.RESERVE))
        ).scalar_one()
    assert count == 10


@pytest.mark.postgres
async def test_two_processes_cannot_overspend_on_postgres(pg_url: str) -> None:
    cap, estimate = 1_000_000, 100_000
    cmd = [sys.executable, "-m", "tests.kit.pg", "reserve", pg_url, "--n", "25"]
    cmd += ["--cap", str(cap), "--estimate", str(estimate), "--scope", SCOPE]
    procs = [
        subprocess.Popen([*cmd, "--tag", f"p{p}"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for p in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    accepted = [json.loads(out)["accepted"] for out in outputs]

    assert sum(accepted) == 10
    engine = create_engine(pg_url)
    try:
        spent, reserved = await usage_of(
            session_factory(engine), SCOPE, period_key("month", utcnow())
        )
    finally:
        await engine.dispose()
    assert spent + reserved == cap


async def test_settle_and_refund_happen_once_and_the_ledger_adds_up(sessions: Sessions) -> None:
    key = period_key("month", NOW)
    for i, estimate in enumerate((300, 500, 700)):
        assert isinstance(await reserve_one(sessions, f"j{i}", estimate), Reservation)

    async def close(job: str, cost: int | None) -> bool:
        async with write_session(sessions) as session:
            if cost is None:
                return await refund(session, job_id=job, now=NOW)
            return await settle_usage(session, job_id=job, cost_micros=cost, now=NOW) is not None

    # Concurrent double settles and double refunds, then a refund and a settle that come late.
    first = await asyncio.gather(close("j0", 250), close("j0", 250), close("j1", 450))
    second = await asyncio.gather(close("j2", None), close("j2", None))
    assert sorted(first) == [False, True, True]
    assert sorted(second) == [False, True]
    assert await close("j1", None) is False
    assert await close("j2", 1) is False
    assert await close("missing", 10) is False

    assert await usage_of(sessions, SCOPE, key) == (250 + 450, 0)
    assert await usage_of(sessions, user_scope(SCOPE, "U1"), key) == (700, 0)
    async with sessions() as session:
        ledger = table_of(LedgerEntry)
        rows = (await session.exec(select(ledger.c.kind, ledger.c.amount_micros))).all()
    settled = sum(a for k, a in rows if k == LedgerKind.SETTLE)
    reserved = sum(a for k, a in rows if k == LedgerKind.RESERVE)
    refunded = sum(a for k, a in rows if k == LedgerKind.REFUND)
    closed_estimates = 300 + 500  # j0 and j1 settled, j2 refunded
    assert settled == 700
    assert reserved - closed_estimates - refunded == 0
    assert len(rows) == 6


async def test_periods_roll_over_in_utc(sessions: Sessions) -> None:
    cap = 1_000
    # 23:30 at UTC-5 on Nov 30 is already Dec 1 in UTC: a new month, a fresh budget.
    late_local = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert period_key("month", late_local) == "2026-12"
    assert period_key("day", late_local) == "2026-12-01"
    assert period_key("week", datetime(2026, 11, 21, tzinfo=UTC)) == "2026-W47"
    assert period_key("week", datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert period_key("none", late_local) == "all"

    november = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert isinstance(await reserve_one(sessions, "a", cap, cap=cap, now=november), Reservation)
    refused = await reserve_one(sessions, "b", 1, cap=cap, now=november)
    assert isinstance(refused, Refusal) and refused.period_key == "2026-11"
    assert isinstance(await reserve_one(sessions, "c", cap, cap=cap, now=late_local), Reservation)
    # Settling after the rollover settles the month the money was reserved in.
    async with write_session(sessions) as session:
        assert await settle_usage(session, job_id="a", cost_micros=600, now=late_local) is not None
    assert await usage_of(sessions, SCOPE, "2026-11") == (600, 0)
    assert await usage_of(sessions, SCOPE, "2026-12") == (0, cap)


async def test_warning_is_given_once_per_period(sessions: Sessions) -> None:
    cap = 1_000  # warn at 80% = 800
    flags = [
        (await reserve_one(sessions, f"w{i}", 300, cap=cap)).warn  # type: ignore[union-attr]
        for i in range(3)
    ]
    assert flags == [False, False, True]  # 300, 600, 900: the third crosses 800
    async with write_session(sessions) as session:
        await refund(session, job_id="w2", now=NOW)
    again = await reserve_one(sessions, "w3", 300, cap=cap)
    assert isinstance(again, Reservation) and again.warn is False
    next_month = datetime(2026, 12, 2, tzinfo=UTC)
    fresh = [await reserve_one(sessions, f"n{i}", 450, cap=cap, now=next_month) for i in range(2)]
    assert [r.warn for r in fresh if isinstance(r, Reservation)] == [False, True]


async def test_per_user_cap_refuses_one_user_not_the_others(sessions: Sessions) -> None:
    async with write_session(sessions) as session:
        await set_policy(
            session,
            scope=SCOPE,
            period="day",
            cap_micros=10_000,
            user_cap_micros=1_000,
            updated_by="admin",
        )
    assert isinstance(await reserve_one(sessions, "u1a", 800, user="U1"), Reservation)
    refused = await reserve_one(sessions, "u1b", 300, user="U1")
    assert isinstance(refused, Refusal)
    assert (refused.limit, refused.reserved_micros, refused.cap_micros) == ("user", 800, 1_000)
    assert refused.estimate_micros == 300
    assert isinstance(await reserve_one(sessions, "u2a", 900, user="U2"), Reservation)
    key = period_key("day", NOW)
    # The refused user's attempt left neither the channel nor the user row changed.
    assert await usage_of(sessions, SCOPE, key) == (0, 1_700)
    assert await usage_of(sessions, user_scope(SCOPE, "U1"), key) == (0, 800)


async def test_channel_refusal_gives_the_user_row_back(sessions: Sessions) -> None:
    async with write_session(sessions) as session:
        await set_policy(session, scope="slack:T1:*", period="month", cap_micros=1_000)
    assert isinstance(await reserve_one(sessions, "a", 900, user="U1"), Reservation)
    refused = await reserve_one(sessions, "b", 200, user="U2")
    assert isinstance(refused, Refusal)
    assert (refused.limit, refused.spent_micros, refused.reserved_micros) == ("channel", 0, 900)
    assert refused.policy.source == "workspace"
    key = period_key("month", NOW)
    assert await usage_of(sessions, user_scope(SCOPE, "U2"), key) == (0, 0)


async def test_reserve_many_is_all_or_nothing(sessions: Sessions) -> None:
    defaults = BudgetDefaults(cap_micros=1_000, period="month")

    async def batch(prefix: str, n: int) -> Reservation | Refusal:
        async with write_session(sessions) as session:
            return await reserve_many(
                session,
                estimates={f"{prefix}{i}": 150 for i in range(n)},
                scope=SCOPE,
                user="U1",
                defaults=defaults,
                now=NOW,
            )

    ok = await batch("a", 4)
    assert isinstance(ok, Reservation) and ok.estimate_micros == 600 and len(ok.job_ids) == 4
    too_many = await batch("b", 3)  # 600 + 450 > 1000: none of the three
    assert isinstance(too_many, Refusal) and too_many.estimate_micros == 450
    assert await usage_of(sessions, SCOPE, period_key("month", NOW)) == (0, 600)
    async with sessions() as session:
        jobs = (await session.exec(select(table_of(LedgerEntry).c.job_id))).scalars().all()
    assert sorted(jobs) == ["a0", "a1", "a2", "a3"]


async def test_summary_chart_series_and_export(sessions: Sessions) -> None:
    defaults = BudgetDefaults(cap_micros=5_000, period="month")
    day1, day3 = NOW.replace(day=1), NOW.replace(day=3)
    for job, user, when, cost in (
        ("a", "U1", day1, 100),
        ("b", "U2", day3, 400),
        ("c", "U1", day3, 50),
    ):
        assert isinstance(await reserve_one(sessions, job, 500, user=user, now=when), Reservation)
        async with write_session(sessions) as session:
            assert await settle_usage(session, job_id=job, cost_micros=cost, now=when) is not None
    await reserve_one(sessions, "d", 500, user="U3", now=day3)  # reserved, not spent

    async with sessions() as session:
        summary = await usage_summary(session, scope=SCOPE, defaults=defaults, now=NOW)
        series = await daily_spend(session, scope=SCOPE, since=day1.date(), until=day3.date())
        entries = await ledger_since(session, scope_prefix="slack:T1:", since=day3)
    assert (summary.spent_micros, summary.reserved_micros, summary.cap_micros) == (550, 500, 5_000)
    assert summary.top_users == (("U2", 400), ("U1", 150))
    assert series == [(day1.date(), 100), (day1.date() + timedelta(days=1), 0), (day3.date(), 450)]
    rows = ledger_csv_rows(entries)
    assert rows[0] == CSV_HEADER
    assert [(r[3], r[4], r[5]) for r in rows[1:]] == [
        ("b", "reserve", "500"),
        ("b", "settle", "400"),
        ("c", "reserve", "500"),
        ("c", "settle", "50"),
        ("d", "reserve", "500"),
    ]
