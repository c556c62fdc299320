"""write_each: several writers' work in one SQLite write transaction, each in a savepoint."""

from __future__ import annotations

from sqlalchemy import event, insert
from sqlmodel import select

from storage.db import Session, Sessions, one_writer, write_each
from storage.models import Usage
from storage.sql import run, table_of


def add(scope: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    async def write(session: Session) -> str:
        session.add(Usage(scope=scope, period_key="all"))
        await session.flush()
        if fail:
            raise ValueError(f"{scope} gave up")
        return scope

    return write


async def scopes(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return sorted((await session.exec(select(Usage.scope))).all())


async def test_one_writer_failing_rolls_back_its_own_writes_only(sessions: Sessions) -> None:
    answers = await write_each(sessions, [add("a"), add("b", fail=True), add("c")])
    assert answers[0] == "a" and answers[2] == "c"
    assert isinstance(answers[1], ValueError) and "b gave up" in str(answers[1])
    assert await scopes(sessions) == ["a", "c"]


async def test_a_database_error_fails_only_its_writer(sessions: Sessions) -> None:
    await write_each(sessions, [add("a")])
    # "a" again breaks the primary key at its flush, inside its own savepoint.
    answers = await write_each(sessions, [add("x"), add("a")])
    assert answers[0] == "x" and isinstance(answers[1], Exception)
    assert await scopes(sessions) == ["a", "x"]


def test_only_sqlite_has_one_writer(sessions: Sessions) -> None:
    dialect = sessions.kw["bind"].dialect.name
    assert one_writer(sessions) is (dialect == "sqlite")


def add_core(scope: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    """As `add`, through storage.sql.run (a Core statement, the way every job's writes go)."""

    async def write(session: Session) -> str:
        await run(
            session,
            insert(table_of(Usage)),
            {"scope": scope, "period_key": "all", "spent_micros": 0, "reserved_micros": 0},
        )
        if fail:
            raise ValueError(f"{scope} gave up")
        return scope

    return write


async def test_core_statements_run_in_their_writers_savepoint(sessions: Sessions) -> None:
    # A lost lease raises after the success's first writes: they must go with its savepoint,
    # also when an earlier writer in the same turn already ran a statement.
    answers = await write_each(
        sessions, [add_core("a"), add_core("b", fail=True), add_core("c"), add_core("d", fail=True)]
    )
    assert answers[0] == "a" and answers[2] == "c"
    assert isinstance(answers[1], ValueError) and isinstance(answers[3], ValueError)
    assert await scopes(sessions) == ["a", "c"]


async def test_a_writer_alone_in_its_turn_takes_no_savepoint_and_still_rolls_back(
    sessions: Sessions,
) -> None:
    sent: list[str] = []
    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2].split()[0]))
    assert await write_each(sessions, [add_core("a")]) == ["a"]
    [failed] = await write_each(sessions, [add_core("b", fail=True)])
    assert isinstance(failed, ValueError) and "b gave up" in str(failed)
    assert await scopes(sessions) == ["a"]
    assert "SAVEPOINT" not in sent and sent.count("INSERT") == 2
