"""/edit-budget through the real AsyncApp and the real core: who could see each answer.

The fake Web API records every call, so a test tells a channel message (chat.postMessage to
C...), an ephemeral one (chat.postEphemeral, one user) and a direct message (to D<user>) apart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.app.root import Core
from storage.columns import utcnow
from storage.db import Sessions
from storage.models import LedgerEntry, LedgerKind
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.e2e import real_slack
from tests.kit.slack.harness import CHANNEL, Harness, event_callback, file_object, mention
from tests.kit.slack.harness import slack_harness as harness

MAYA, OMAR, ADMIN = "UMAYA", "UOMAR", "UADMIN"


@dataclass
class World:
    h: Harness
    core: Core
    sessions: Sessions


@asynccontextmanager
async def world(
    sqlite_url: str,
    tmp_path: Path,
    *,
    emu: ProviderEmulator | None = None,
    clock: Callable[[], datetime] = utcnow,
    **settings: Any,
) -> AsyncIterator[World]:
    """The real AsyncApp on the real core (SQLite, files, the provider emulator in process);
    `clock` is the core's."""
    async with real_slack(
        sqlite_url, tmp_path, emu=emu, clock=clock, harness=harness, admins=ADMIN, **settings
    ) as w:
        w.h.api.users.update(
            {
                MAYA: {"profile": {"display_name": "Maya"}},
                OMAR: {"profile": {"display_name": "Omar"}},
                ADMIN: {"profile": {"display_name": "Ada Admin"}},
            }
        )
        w.h.api.channel_names[CHANNEL] = "design"
        yield World(w.h, w.core, w.sessions)


async def edit_by(w: World, user: str, ts: str, prompt: str) -> None:
    """A mention with a photo by `user`, run to its end by the real worker."""
    w.h.api.files[f"{ts}.png"] = split((320, 256))
    event = mention(prompt, ts=ts, files=[file_object(w.h.api, f"{ts}.png")])
    event["user"] = user
    uploads = len(w.h.api.uploads)
    posted = len(w.h.api.named("chat.postMessage"))
    assert (await w.h.post(event_callback(event, event_id=f"Ev{ts}"))).status_code == 200
    await w.h.api.wait_calls("chat.postMessage", posted + 1)  # the job's status: it is queued
    await w.core.worker.drain()
    await w.h.api.wait_for(lambda: len(w.h.api.uploads) > uploads)


def channel_messages(h: Harness) -> list[dict[str, Any]]:
    """Everything everyone in the channel could read: messages and shared files there."""
    said = [a for a in h.api.named("chat.postMessage") if a["channel"] == CHANNEL]
    shared = [
        {"text": u.initial_comment or "", "file": u.filename}
        for u in h.api.uploads
        if u.channel == CHANNEL
    ]
    return said + shared


async def test_show_answers_only_the_asker_by_name_without_pings(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await edit_by(w, MAYA, "1699999999.000100", "make it blue quality=low")
        await edit_by(w, OMAR, "1699999999.000200", "make it red quality=low")
        public_before = len(channel_messages(w.h))
        for text in ("show", ""):
            await w.h.command("/edit-budget", text, user=OMAR)
            await w.h.api.wait_calls("chat.postEphemeral", 1 if text else 2)
        first, second = w.h.api.named("chat.postEphemeral")
        for eph in (first, second):
            assert eph["user"] == OMAR and eph["channel"] == CHANNEL
            assert "Maya - $0." in eph["text"] and "Omar - $0." in eph["text"]
            assert "<@" not in eph["text"]  # names, never mentions
        # Nothing new in the channel: no chart, no summary.
        assert len(channel_messages(w.h)) == public_before


async def test_chart_goes_to_the_channel_with_spenders_only_for_an_admin(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await edit_by(w, MAYA, "1699999999.000100", "make it blue quality=low")
        await w.h.command("/edit-budget", "chart", user=OMAR)
        await w.h.api.wait_for(lambda: len(w.h.api.uploads) == 2)
        chart = w.h.api.uploads[-1]
        assert (chart.channel, chart.filename) == (CHANNEL, "budget.png")
        assert chart.data.startswith(b"\x89PNG")
        assert "Maya" not in (chart.initial_comment or "")  # no per-person figures
        assert "Spent this month" in (chart.initial_comment or "")
        await w.h.command("/edit-budget", "chart", user=ADMIN)
        await w.h.api.wait_for(lambda: len(w.h.api.uploads) == 3)
        assert "1. Maya - $0." in (w.h.api.uploads[-1].initial_comment or "")
        # Each asker is also answered privately, after the upload: wait for it, or the fake
        # Web API closes under that last request (a socket left to the garbage collector).
        await w.h.api.wait_calls("chat.postEphemeral", 2)
        assert [a["user"] for a in w.h.api.named("chat.postEphemeral")] == [OMAR, ADMIN]


async def test_usage_is_a_finance_report_sent_only_to_an_admin_by_dm(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await edit_by(w, MAYA, "1699999999.000100", "make it blue quality=low")
        await edit_by(w, OMAR, "1699999999.000200", "=HYPERLINK(x) quality=low")
        uploads = len(w.h.api.uploads)
        await w.h.command("/edit-budget", "usage", user=MAYA)
        await w.h.api.wait_calls("chat.postEphemeral")
        [refused] = w.h.api.named("chat.postEphemeral")
        assert refused["user"] == MAYA and "Only an admin" in refused["text"]
        assert "Ada Admin" in refused["text"] and "<@" not in refused["text"]
        assert len(w.h.api.uploads) == uploads and not w.h.api.named("conversations.open")

        await w.h.command("/edit-budget", "usage", user=ADMIN)
        await w.h.api.wait_for(lambda: len(w.h.api.uploads) > uploads)
        [report] = w.h.api.uploads[uploads:]
        assert report.channel == "D" + ADMIN  # the admin's DM, nobody else's
        await w.h.api.wait_calls("chat.postEphemeral", 2)
        [told] = w.h.api.named("chat.postEphemeral")[1:]
        assert told["user"] == ADMIN and "direct message" in told["text"]
        rows = list(csv.reader(io.StringIO(report.data.decode())))
        header, *edits = rows
        assert header == ["date", "channel", "user", "prompt", "version", "status", "usd", "link"]
        assert [(r[1], r[2], r[5]) for r in edits] == [
            ("#design", "Maya", "charged"),
            ("#design", "Omar", "charged"),
        ]
        assert edits[0][3] == "make it blue" and edits[1][3].startswith("'=")
        assert edits[0][7].startswith("https://editbot-test.slack.com/archives/C0001/p")
        async with w.sessions() as session:
            settled = (
                await session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.SETTLE))
            ).all()
        # The dollars column sums to what was charged, once per edit.
        assert sum(Decimal(r[6]) for r in edits) * 1_000_000 == sum(
            e.amount_micros for e in settled
        )


async def test_warning_tells_the_channel_once_and_each_admin_directly(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await w.h.command("/edit-budget", "set 1 warn=1", user=ADMIN)
        await w.h.api.wait_calls("chat.postEphemeral")
        await edit_by(w, MAYA, "1699999999.000100", "make it blue quality=low")
        await edit_by(w, OMAR, "1699999999.000200", "make it red quality=low")
        warnings = [
            a for a in w.h.api.named("chat.postMessage") if "Heads up" in str(a.get("text"))
        ]
        in_channel = [a for a in warnings if a["channel"] == CHANNEL]
        assert len(in_channel) == 1 and "thread_ts" not in in_channel[0]  # once, channel level
        dms = [a for a in warnings if a["channel"] == "D" + ADMIN]
        assert len(dms) == 1 and "#design" in dms[0]["text"]


def workspace_people(w: World) -> None:
    """Slack's own admins besides EDITBOT_ADMINS (ADMIN), and people who are none; users.list
    answers two people a page."""
    w.h.api.users.update(
        {
            "UOWNER": {"is_owner": True, "profile": {"display_name": "Olga Owner"}},
            "UWSADMIN": {"is_admin": True, "profile": {"display_name": "Wes Admin"}},
            "UBOTADMIN": {"is_admin": True, "is_bot": True},
            "UGONE": {"is_admin": True, "deleted": True},
        }
    )
    w.h.api.users_page = 2


async def test_warning_tells_workspace_admins_directly_once_without_pings(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        workspace_people(w)
        await w.h.command("/edit-budget", "set 1 warn=1", user=ADMIN)
        await w.h.api.wait_calls("chat.postEphemeral")
        await edit_by(w, MAYA, "1699999999.000100", "make it blue quality=low")
        await edit_by(w, OMAR, "1699999999.000200", "make it red quality=low")
        warnings = [
            a for a in w.h.api.named("chat.postMessage") if "Heads up" in str(a.get("text"))
        ]
        dms = sorted(str(a["channel"]) for a in warnings if a["channel"] != CHANNEL)
        # Each admin once (EDITBOT_ADMINS and Slack's owner and admin), nobody else.
        assert dms == ["DUADMIN", "DUOWNER", "DUWSADMIN"]
        [in_channel] = [a for a in warnings if a["channel"] == CHANNEL]
        assert "<@" not in str(in_channel["text"])
        assert len(w.h.api.named("users.list")) >= 2  # every page was read


async def test_refusal_names_workspace_admins_as_who_can_raise_the_cap(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path, EDITBOT_DEFAULT_BUDGET_USD="0.001") as w:
        workspace_people(w)
        w.h.api.files["r.png"] = split((320, 256))
        event = mention(
            "make it blue", ts="1699999999.000300", files=[file_object(w.h.api, "r.png")]
        )
        event["user"] = MAYA
        assert (await w.h.post(event_callback(event, event_id="EvR"))).status_code == 200
        await w.h.api.wait_calls("chat.postMessage")
        [refusal] = w.h.api.named("chat.postMessage")
        text = str(refusal["text"])
        assert "ask Ada Admin, Olga Owner, Wes Admin or a workspace admin." in text
        assert "<@" not in text
