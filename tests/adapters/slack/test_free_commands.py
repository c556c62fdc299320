"""No paid edit nobody asked for, through the real AsyncApp and the real core: free thread
commands, help anywhere, "did you mean", and buttons acted on once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlmodel import select

from storage.models import Job, LedgerEntry
from tests.adapters.slack.test_budget_privacy import MAYA, OMAR, World, edit_by, world
from tests.kit.images import split
from tests.kit.slack.harness import CHANNEL, button_press, event_callback, file_object, mention
from tests.kit.workers import committed_jobs

TS = "1699999999.000100"


async def _counts(w: World) -> tuple[int, int]:
    async with w.sessions() as session:
        jobs = len((await session.exec(select(Job))).all())
        ledger = len((await session.exec(select(LedgerEntry))).all())
    return jobs, ledger


async def _say_in_thread(w: World, text: str, n: int, *, user: str = MAYA) -> None:
    event = mention(text, ts=f"1699999999.0009{n:02d}", thread_ts=TS)
    event["user"] = user
    assert (await w.h.post(event_callback(event, event_id=f"EvT{n}"))).status_code == 200


async def test_thread_commands_are_free_and_help_and_typos_answer_only_the_asker(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await edit_by(w, MAYA, TS, "make it blue quality=low")
        before = await _counts(w)
        ephemeral = len(w.h.api.named("chat.postEphemeral"))
        for n, text in enumerate(("help", "hlep", "undoo")):
            await _say_in_thread(w, text, n)
            await w.h.api.wait_calls("chat.postEphemeral", ephemeral + n + 1)
        helped, typo, typo2 = w.h.api.named("chat.postEphemeral")[ephemeral:]
        for eph in (helped, typo, typo2):
            assert (eph["user"], eph["channel"], eph["thread_ts"]) == (MAYA, CHANNEL, TS)
        assert "`versions`" in helped["text"] and "quality=" in helped["text"]
        assert len(helped["text"].splitlines()) <= 5  # a few lines
        assert typo["text"].startswith("Did you mean `help`?")
        assert typo2["text"].startswith("Did you mean `undo`?")

        posted = len(w.h.api.named("chat.postMessage"))
        for n, text in enumerate(("redo", "revert to v1", "go back", "cancel"), start=10):
            await _say_in_thread(w, text, n)
            await w.h.api.wait_calls("chat.postMessage", posted + n - 9)
        said = [a["text"] for a in w.h.api.named("chat.postMessage")[posted:]]
        assert said[0].startswith("Nothing to redo")
        assert said[1].startswith("v1 is the current version now")
        assert said[2].startswith("Nothing to undo")
        assert said[3].startswith("Nothing of yours is waiting")
        # None of it was an edit: no job, no ledger row, no provider call.
        assert await _counts(w) == before


async def test_help_anywhere_by_mention_and_slash_command(sqlite_url: str, tmp_path: Path) -> None:
    async with world(sqlite_url, tmp_path) as w:
        event = mention("help", ts="1699999999.000500")
        assert (await w.h.post(event_callback(event, event_id="EvH"))).status_code == 200
        await w.h.api.wait_calls("chat.postEphemeral")
        await w.h.command("/edit", "help")
        await w.h.api.wait_calls("chat.postEphemeral", 2)
        for eph in w.h.api.named("chat.postEphemeral"):
            assert eph["channel"] == CHANNEL and "`undo`" in eph["text"]
        assert w.h.api.named("chat.postMessage") == [] and w.h.api.named("views.open") == []
        assert await _counts(w) == (0, 0)


def _press(
    action: str, job_id: str, *, user: str, action_ts: str, on: str = "5.6"
) -> dict[str, Any]:
    return button_press(
        f"editbot:{action}", job_id, user=user, message_ts=on, thread_ts=TS, action_ts=action_ts
    )


async def test_retry_pressed_twice_runs_one_paid_job(sqlite_url: str, tmp_path: Path) -> None:
    async with world(sqlite_url, tmp_path) as w:
        await edit_by(w, MAYA, TS, "make it blue quality=low")
        async with w.sessions() as session:
            [job] = (await session.exec(select(Job))).all()
        [result] = [m for m in w.h.api.bot_messages(CHANNEL, TS) if m.get("files")]
        assert any(b["type"] == "actions" for b in result["blocks"])  # Retry is on it
        files, caption = list(result["files"]), result["blocks"][0]
        asked = len(w.h.api.named("users.info"))
        for ts in ("8.1", "8.2"):  # two presses, two distinct Slack events
            press = _press("retry", job.id, user=MAYA, action_ts=ts, on=result["ts"])
            assert (await w.h.interact(press)).is_success
        await w.h.api.wait_calls("users.info", asked + 2)  # both presses reached the app
        # The acting press marks the pressed message once its retry is queued (the first
        # edit's status updates were chat.update calls too: wait for this message's).
        await w.h.api.wait_for(
            lambda: any(a["ts"] == result["ts"] for a in w.h.api.named("chat.update"))
        )
        await w.core.worker.drain()
        async with w.sessions() as session:
            jobs = (await session.exec(select(Job))).all()
        assert len(jobs) == 2  # the first edit and ONE retry
        # The pressed message itself says what is happening, once: its image stays, its
        # buttons give way to a line everyone in the thread sees.
        marks = [a for a in w.h.api.named("chat.update") if a["ts"] == result["ts"]]
        assert [a["text"] for a in marks] == ["Retrying as v2..."]
        [shown] = [m for m in w.h.api.bot_messages(CHANNEL, TS) if m["ts"] == result["ts"]]
        assert shown["files"] == files and files and shown["blocks"][0] == caption
        assert [b["type"] for b in shown["blocks"]][-1] == "context"
        assert "actions" not in [b["type"] for b in shown["blocks"]]
        assert shown["blocks"][-1]["elements"][0]["text"] == "Retrying as v2..."
        assert not [a for a in w.h.api.named("chat.postEphemeral") if "Retrying" in a["text"]]
        # Another person's press is their own: it is acted on.
        assert (await w.h.interact(_press("retry", job.id, user=OMAR, action_ts="8.3"))).is_success
        async with asyncio.timeout(10):
            while (await _counts(w))[0] < 3:
                await asyncio.sleep(0.01)


async def test_a_stranger_pressing_confirm_is_answered_privately_without_a_ping(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path, EDITBOT_CONFIRM_ABOVE_USD="0") as w:
        w.h.api.files["p.png"] = split((320, 256))
        event = mention("make it blue", ts=TS, files=[file_object(w.h.api, "p.png")])
        event["user"] = MAYA
        assert (await w.h.post(event_callback(event, event_id="EvC"))).status_code == 200
        await w.h.api.wait_calls("chat.postMessage")
        [job] = await committed_jobs(w.sessions, 1)  # a press comes once the job is there
        posted = len(w.h.api.named("chat.postMessage"))
        await w.h.interact(_press("confirm", job.id, user=OMAR, action_ts="9.1"))
        await w.h.api.wait_calls("chat.postEphemeral")
        [eph] = w.h.api.named("chat.postEphemeral")
        assert eph["user"] == OMAR and eph["text"].startswith("Only Maya (who asked")
        assert "<@" not in eph["text"]
        assert len(w.h.api.named("chat.postMessage")) == posted  # nothing public
        async with w.sessions() as session:
            assert (await session.get(Job, job.id)).status == "awaiting_confirm"  # type: ignore[union-attr]
