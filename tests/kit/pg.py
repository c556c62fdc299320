"""PostgreSQL test helpers: a throwaway database per test, and subprocess entry points.

`python -m tests.kit.pg reserve URL N ...` and `python -m tests.kit.pg claim URL ...` run the
storage API from a second process, for the cross-process tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ENV_URL = "EDITBOT_TEST_POSTGRES_URL"
ENV_REQUIRE = "EDITBOT_REQUIRE_POSTGRES"


def admin_url() -> str | None:
    """The server URL tests may use (libpq form), or None when unset."""
    return os.environ.get(ENV_URL) or None


def postgres_required() -> bool:
    """Whether a missing or unreachable server must fail the run instead of skipping."""
    return os.environ.get(ENV_REQUIRE) == "1"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def to_async_url(url: str) -> str:
    """A libpq URL as SQLAlchemy's psycopg 3 async URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create a uniquely named empty database; yield its libpq URL; drop it afterwards."""
    name = f"editbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def _reserve_main(args: argparse.Namespace) -> dict[str, object]:
    from bot.core.budgets import BudgetDefaults, Reservation
    from storage.budgets import reserve_many
    from storage.db import create_engine, session_factory, write_session

    engine = create_engine(args.url, pool_size=args.n, max_overflow=0)
    sessions = session_factory(engine)
    defaults = BudgetDefaults(cap_micros=args.cap, period="month")

    async def one(i: int) -> bool:
        async with write_session(sessions) as session:
            result = await reserve_many(
                session,
                scope=args.scope,
                user=f"u{i % 3}",
                estimates={f"{args.tag}-{i}": args.estimate},
                defaults=defaults,
            )
        return isinstance(result, Reservation)

    try:
        results = await asyncio.gather(*(one(i) for i in range(args.n)))
    finally:
        await engine.dispose()
    return {"accepted": sum(results)}


async def _claim_main(args: argparse.Namespace) -> dict[str, object]:
    from bot.core.jobs import JobStatus
    from storage.claims import claim
    from storage.db import create_engine, session_factory, write_session
    from storage.queue import finish

    engine = create_engine(args.url, pool_size=args.workers, max_overflow=0)
    sessions = session_factory(engine)
    claimed: list[str] = []

    async def worker(w: int) -> None:
        owner = f"{args.tag}-w{w}"
        while (job := await claim(sessions, owner=owner, lease_s=60)) is not None:
            job_id = job.spec.id
            claimed.append(job_id)
            async with write_session(sessions) as session:
                ok = await finish(session, job_id=job_id, owner=owner, status=JobStatus.SUCCEEDED)
            assert ok, job_id

    try:
        await asyncio.gather(*(worker(w) for w in range(args.workers)))
    finally:
        await engine.dispose()
    return {"claimed": claimed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kit.pg")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reserve", help="N concurrent reservations; prints {'accepted': k}")
    r.add_argument("url")
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--cap", type=int, required=True)
    r.add_argument("--estimate", type=int, required=True)
    r.add_argument("--scope", required=True)
    r.add_argument("--tag", required=True)
    c = sub.add_parser("claim", help="drain the queue with W workers; prints claimed ids")
    c.add_argument("url")
    c.add_argument("--workers", type=int, default=4)
    c.add_argument("--tag", required=True)
    args = parser.parse_args(argv)
    runner = _reserve_main if args.cmd == "reserve" else _claim_main
    print(json.dumps(asyncio.run(runner(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
