"""`/edit-budget show|set|usage` through EditService.budget, and the CLI that mirrors it."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.app.cli import main as cli_main
from bot.core.budgets import Policy
from bot.core.domain import Place
from bot.core.messages import not_admin
from bot.service.budget import USAGE
from storage.budgets import settle_usage
from storage.db import Sessions, create_engine, session_factory, upgrade, write_session
from storage.policies import effective_policy
from tests.kit.rig import CHANNEL, Rig, images, make_rig

OTHER = replace(CHANNEL, channel="C10")  # shares the prefix "slack:T1:C1"


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def _spend(rig: Rig, *, place: Place = CHANNEL, cost: int = 123_400) -> str:
    """One job reserved and settled at `cost` (what the worker does on success)."""
    before = {j.id for j in await rig.jobs()}
    await rig.submit("make it blue", *images((250, 0, 0)), place=place, message_id=None)
    [job] = [j for j in await rig.jobs() if j.id not in before]
    async with write_session(rig.sessions) as session:
        assert (
            await settle_usage(session, job_id=job.id, cost_micros=cost, now=rig.now[0]) is not None
        )
    return job.id


async def _policy(rig: Rig) -> Policy:
    async with rig.sessions() as session:
        return await effective_policy(
            session,
            scope=CHANNEL.scope,
            workspace_scope="slack:T1:*",
            default_cap_micros=20_000_000,
            default_period="month",
        )


async def test_show_gives_numbers_privately_by_name_and_chart_is_its_own_command(
    rig: Rig,
) -> None:
    await _spend(rig, cost=1_500_000)
    rig.chat.names["U1"] = "Maya"
    reply = await rig.service.budget(CHANNEL, "show", platform_admin=False)
    assert reply.private and reply.chart_png is None
    assert "$20.00" in reply.text and "1. Maya - $1.50" in reply.text and "<@" not in reply.text
    # No argument means show.
    assert (await rig.service.budget(CHANNEL, "", platform_admin=False)).text == reply.text
    chart = await rig.service.budget(CHANNEL, "chart", platform_admin=False)
    assert chart.chart_png is not None and "Maya" not in chart.chart_text
    with Image.open(io.BytesIO(chart.chart_png)) as png:
        assert png.format == "PNG" and png.width > png.height
    admin = await rig.service.budget(CHANNEL, "chart", platform_admin=True)
    assert "1. Maya - $1.50" in admin.chart_text


async def test_only_admins_may_set(rig: Rig) -> None:
    reply = await rig.service.budget(CHANNEL, "set 50", platform_admin=False)
    assert reply.text == not_admin("a workspace admin")  # UADMIN has no name here
    assert (await _policy(rig)).source == "default"
    # EDITBOT_ADMINS counts even when the adapter said no.
    admin = replace(CHANNEL, user="UADMIN")
    await rig.service.budget(admin, "set 7", platform_admin=False)
    assert (await _policy(rig)).cap_micros == 7_000_000


async def test_set_parses_dollars_exactly_and_keeps_what_is_not_said(rig: Rig) -> None:
    reply = await rig.service.budget(
        CHANNEL, "set $12.35 week user=2.10 warn=50%", platform_admin=True
    )
    assert "$12.35 a week" in reply.text and "$2.10" in reply.text
    policy = await _policy(rig)
    assert (policy.cap_micros, policy.period, policy.user_cap_micros, policy.warn_percent) == (
        12_350_000,
        "week",
        2_100_000,
        50,
    )
    await rig.service.budget(CHANNEL, "set 30", platform_admin=True)
    policy = await _policy(rig)
    assert (policy.cap_micros, policy.period, policy.user_cap_micros, policy.warn_percent) == (
        30_000_000,
        "week",
        2_100_000,
        50,
    )
    await rig.service.budget(CHANNEL, "set 30 user=none", platform_admin=True)
    assert (await _policy(rig)).user_cap_micros is None


@pytest.mark.parametrize(
    "args",
    ["set", "set abc", "set 10 fortnight", "set -5", "set 10 warn=0", "set NaN", "frobnicate"],
)
async def test_bad_input_gets_a_usage_line_and_changes_nothing(rig: Rig, args: str) -> None:
    reply = await rig.service.budget(CHANNEL, args, platform_admin=True)
    assert "/edit-budget" in reply.text or "warn=" in reply.text or "$0 and" in reply.text
    assert (await _policy(rig)).source == "default"


async def test_usage_is_a_finance_report_of_the_channel_for_admins(rig: Rig) -> None:
    job = await _spend(rig, cost=50_000)
    await _spend(rig, place=OTHER, cost=70_000)
    rig.chat.names["U1"] = "Maya"
    refused = await rig.service.budget(CHANNEL, "usage since 2026-05-01", platform_admin=False)
    assert refused.csv is None and refused.text.startswith("Only an admin")
    reply = await rig.service.budget(CHANNEL, "usage since 2026-05-01", platform_admin=True)
    assert reply.csv is not None
    rows = list(csv.reader(io.StringIO(reply.csv.decode())))
    assert rows[0] == ["date", "channel", "user", "prompt", "version", "status", "usd", "link"]
    [row] = rows[1:]  # one row per edit, not a reserve and a settle; C10 is not C1
    assert row[1:4] == ["#C1", "Maya", "make it blue"] and row[5:7] == ["charged", "0.050000"]
    assert job not in reply.csv.decode()
    assert "1 edit" in reply.text
    later = await rig.service.budget(CHANNEL, "usage since 2026-06-01", platform_admin=True)
    assert later.csv is not None and len(later.csv.decode().splitlines()) == 1
    bad = await rig.service.budget(CHANNEL, "usage since yesterday", platform_admin=True)
    assert bad.csv is None and USAGE in bad.text


def test_cli_mirrors_set_show_and_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(upgrade(url))
    monkeypatch.setenv("EDITBOT_DATABASE_URL", url)
    monkeypatch.setenv("EDITBOT_DATA_DIR", str(tmp_path))

    assert cli_main(["budget", "set", "--scope", CHANNEL.scope, "15.5", "--period", "day"]) == 0
    assert "$15.50 a day" in capsys.readouterr().out

    async def seed() -> str:
        engine = create_engine(url)
        try:
            rig = make_rig(sessions=session_factory(engine), tmp_path=tmp_path)
            from datetime import UTC, datetime

            rig.now[0] = datetime.now(UTC)
            return await _spend(rig, cost=250_000)
        finally:
            await engine.dispose()

    job = asyncio.run(seed())
    chart = tmp_path / "chart.png"
    assert cli_main(["budget", "show", "--scope", CHANNEL.scope, "--chart", str(chart)]) == 0
    shown = capsys.readouterr().out
    assert "$15.50 a day" in shown and "$0.250" in shown
    assert chart.read_bytes().startswith(b"\x89PNG")

    assert cli_main(["usage", "--since", "2000-01-01", "--csv", "--ledger"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [r[4] for r in rows[1:]] == ["reserve", "settle"] and rows[1][3] == job
    # Without --ledger: the finance report, one row per edit in dollars (ids: no platform here).
    assert cli_main(["usage", "--since", "2000-01-01", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [(r[1], r[2], r[5], r[6]) for r in rows[1:]] == [("C1", "U1", "charged", "0.250000")]

    assert cli_main(["budget", "set", "--scope", "nonsense", "5"]) == 2
    assert "--scope" in capsys.readouterr().err
