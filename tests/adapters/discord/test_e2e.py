"""End to end on Discord: the real EditBot, EditService and Worker (SQLite), the emulator as
provider. Asserts what a person in the channel sees: the thread, the posted file (its pixel size,
pixels that come from the input), the caption's version, cost and budget, and the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest

from bot.core.domain import Quality, format_usd
from bot.core.jobs import JobStatus
from storage.job_rows import spec_of_row
from storage.models import Job
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    attachment_dict,
    dispatch_interaction,
    image_attachment,
    interaction_payload,
    post_message,
    settle,
    slash,
)
from tests.kit.discord.e2e import (
    CHEAP,
    Core,
    Instance,
    drain_sent,
    file_bytes,
    start_instance,
    thread_create,
)
from tests.kit.emulator import Recorded
from tests.kit.emulator.images import tint
from tests.kit.images import pixel_at, size_of, split
from tests.kit.settings import make_settings
from tests.kit.workers import all_jobs, read_ledger


def input_file(tmp_path: Path, name: str = "shoe.png") -> Path:
    path = tmp_path / name
    path.write_bytes(split())
    return path


async def edit_command(
    bot: Instance, image: Path, prompt: str, **options: str
) -> RecordingWebhookAdapter:
    """Alice's /edit with `prompt` on `image` (and string `options`, e.g. quality="low"): its
    interaction responses and followups are recorded."""
    att = attachment_dict(image)
    values = [
        {"name": "prompt", "type": 3, "value": prompt},
        {"name": "image", "type": 11, "value": str(att["id"])},
        *({"name": name, "type": 3, "value": value} for name, value in options.items()),
    ]
    payload = interaction_payload(
        kind=2,
        channel=bot.channel,
        member=bot.alice,
        data=slash("edit", values, attachments={str(att["id"]): att}),
    )
    adapter = RecordingWebhookAdapter(bot.channel)
    await dispatch_interaction(payload, adapter)
    return adapter


def scope(bot: Instance) -> str:
    return f"discord:{bot.channel.guild.id}:{bot.channel.id}"


def blended(source: tuple[int, int, int], prompt: str) -> tuple[int, int, int]:
    """What the emulator paints where the input is `source`: 75% input, 25% the prompt's tint."""
    t = tint(prompt, 0)
    return tuple(round(0.75 * s + 0.25 * c) for s, c in zip(source, t, strict=True))  # type: ignore[return-value]


def close(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def provider_inputs(call: Recorded) -> list[bytes]:
    """The input images one provider request carried."""
    return [f.data for f in call.files if f.name in ("image", "image[]")]


async def job_rows(core: Core) -> list[Job]:
    return sorted(await all_jobs(core.sessions), key=lambda j: (j.created_at, j.id))


async def mention_with_image(bot: Instance, tmp_path: Path, text: str) -> discord.Message:
    msg = post_message(
        bot.mention(text),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(input_file(tmp_path))],
    )
    await settle()
    return msg


async def edit_v1(core: Core, bot: Instance, tmp_path: Path) -> tuple[discord.Message, bytes]:
    """Alice's mention, run by the worker; returns the result message and its file's bytes."""
    await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")
    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    return result, file_bytes(result)


async def test_mention_runs_through_the_core_and_posts_v1_in_a_new_thread(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    msg = await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")

    # Before the worker runs: the thread is opened on the request, the status says queued.
    [(anchor, name)] = bot.threads_opened
    assert anchor == msg.id and name.startswith("make it pop")
    [status] = await drain_sent()
    thread_id = status.channel.id
    assert bot.thread(thread_id).parent_id == bot.channel.id
    assert status.content == "Queued - yours is next."

    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    assert result.channel.id == thread_id
    [job] = await job_rows(core)
    assert job.status is JobStatus.SUCCEEDED and job.cost_micros
    cost = format_usd(job.cost_micros)
    left = format_usd(20_000_000 - job.cost_micros)
    assert result.content == (
        f'v1 · "make it pop" for <@{bot.alice.id}> · 1024x640 low · {cost} · {left} left this month'
    )
    data = file_bytes(result)
    assert size_of(data) == (1024, 640)
    # The pixels come from the input: red stays left, blue stays right, under the tint.
    prompt = core.emu.routes("openai_edit")[0].fields["prompt"]
    assert close(pixel_at(data, 0.25, 0.5), blended((255, 0, 0), prompt))
    assert close(pixel_at(data, 0.75, 0.5), blended((0, 0, 255), prompt))
    # The result is the edit's one message: the status message was deleted once it was posted.
    assert bot.http.deleted == [status.id]
    # Buttons carry the job id; the ledger has exactly this job, settled at its cost.
    # No Undo under v1: there is nothing before it.
    assert bot.http.custom_ids() == [f"editbot:{a}:{job.id}" for a in ("retry", "hq")]
    ledger = await read_ledger(core.sessions, scope(bot))
    assert ledger.settled == {job.id: job.cost_micros}
    assert (ledger.reserved, ledger.spent, ledger.refunded) == (0, job.cost_micros, set())


async def test_mention_in_the_edit_thread_without_image_builds_v2_from_v1(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    v1, v1_bytes = await edit_v1(core, bot, tmp_path)
    thread = bot.thread(v1.channel.id)

    post_message(bot.mention(f"warmer light {CHEAP}"), channel=thread, author=bot.alice)
    await settle()
    await bot.worker.drain()

    assert len(bot.threads_opened) == 1  # refined in the same thread, no new one
    [v2] = [m for m in await drain_sent() if m.attachments]
    assert v2.channel.id == thread.id
    assert v2.content.startswith('v2 · "warmer light" for <@')
    assert " · 1024x640 low · $" in v2.content
    # The provider got exactly the v1 the channel was shown, and v2 is drawn from it.
    first, second = core.emu.routes("openai_edit")
    assert provider_inputs(second) == [v1_bytes]
    v2_bytes = file_bytes(v2)
    assert size_of(v2_bytes) == (1024, 640) and v2_bytes != v1_bytes
    left_v1 = pixel_at(v1_bytes, 0.25, 0.5)
    assert close(pixel_at(v2_bytes, 0.25, 0.5), blended(left_v1, second.fields["prompt"]))
    jobs = await job_rows(core)
    assert [(j.base_version, j.version, j.status) for j in jobs] == [
        (None, 1, JobStatus.SUCCEEDED),
        (1, 2, JobStatus.SUCCEEDED),
    ]
    ledger = await read_ledger(core.sessions, scope(bot))
    assert ledger.settled == {j.id: j.cost_micros for j in jobs}


async def test_edit_command_defers_then_posts_the_result_in_a_thread(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    image = input_file(tmp_path, "bag.png")
    adapter = await edit_command(bot, image, "beige wall size=1024x640", quality="low")

    # Deferred ("thinking", type 5) first, inside the 3 s, then the original response edited.
    assert adapter.calls[0].path.endswith("/callback") and adapter.calls[0].payload["type"] == 5
    assert adapter.calls[1].path.endswith("/messages/@original")
    [job] = await job_rows(core)
    assert job.status is JobStatus.QUEUED and job.user == str(bot.alice.id)
    [(anchor, name)] = bot.threads_opened
    assert anchor is not None and name.startswith("beige wall")

    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    # Through the channel into the thread, never through the interaction token.
    assert result.channel.id == int(str(job.thread))
    assert bot.thread(result.channel.id).parent_id == bot.channel.id
    assert len(adapter.calls) == 2
    assert result.content.startswith("v1 · ") and " · 1024x640 low · $" in result.content
    data = file_bytes(result)
    assert size_of(data) == (1024, 640)
    prompt = core.emu.routes("openai_edit")[0].fields["prompt"]
    assert close(pixel_at(data, 0.75, 0.5), blended((0, 0, 255), prompt))
    ledger = await read_ledger(core.sessions, scope(bot))
    assert list(ledger.settled) == [job.id]


async def test_exhausted_budget_is_refused_with_no_job_and_no_charge(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(
        core, settings=make_settings(tmp_path, EDITBOT_DEFAULT_BUDGET_USD="0.001")
    )
    await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")
    await bot.worker.drain()

    [refusal] = await drain_sent()
    assert refusal.channel.id != bot.channel.id  # said in the request's thread
    assert refusal.content.startswith("Not run: this edit could cost up to $0.")
    assert "($0.00 spent of $0.001)" in refusal.content
    assert "Nothing was charged." in refusal.content
    # Who can raise it, in words; the admin command is not put to people who cannot run it.
    assert "ask someone with Manage Server" in refusal.content
    assert "/edit-budget set" not in refusal.content
    assert await job_rows(core) == []
    assert core.emu.requests == []
    ledger = await read_ledger(core.sessions, scope(bot))
    assert (ledger.reserved, ledger.spent, ledger.settled) == (0, 0, {})


def button_press(
    bot: Instance,
    *,
    custom_id: str,
    message: discord.Message,
    components: list[dict[str, Any]],
    member: discord.User,
    permissions: discord.Permissions | None = None,
) -> dict[str, Any]:
    """A button INTERACTION_CREATE on `message` (in an edit thread), as Discord sends it."""
    thread = message.channel
    assert isinstance(thread, discord.Thread)
    payload = interaction_payload(
        kind=3,
        channel=thread,
        member=member,
        permissions=permissions,
        data={"custom_id": custom_id, "component_type": 2},
        message=message,
    )
    payload["channel"]["parent_id"] = str(bot.channel.id)
    payload["message"]["channel_id"] = thread.id
    # Discord sends the pressed message with its buttons (dpytest's Message keeps none).
    payload["message"]["components"] = components
    return payload


def sent_components(bot: Instance, custom_id: str) -> list[dict[str, Any]]:
    """The component rows of the message the bot sent with a button `custom_id`."""
    for _, payload in reversed(bot.http.sent):
        rows = payload.get("components") or []
        if any(c.get("custom_id") == custom_id for row in rows for c in row["components"]):
            return list(rows)
    raise AssertionError(f"no message was sent with {custom_id}")


async def test_high_quality_pressed_after_a_restart_runs_v2_at_high(
    core: Core, tmp_path: Path
) -> None:
    first = await start_instance(core)
    v1, v1_bytes = await edit_v1(core, first, tmp_path)
    [job1] = await job_rows(core)
    hq = f"editbot:hq:{job1.id}"
    components = sent_components(first, hq)
    await dpytest.empty_queue()

    # A new process: new bot, service and worker on the same database; Discord kept the ids.
    second = await start_instance(core, ids=first.ids)
    thread_create(second.channel, thread_id=v1.channel.id, owner_id=0, name="make it pop")
    adapter = RecordingWebhookAdapter(second.channel)
    payload = button_press(
        second, custom_id=hq, message=v1, components=components, member=second.alice
    )
    await dispatch_interaction(payload, adapter)
    assert adapter.calls[0].payload["type"] == 6  # deferred update, inside the 3 s
    await second.worker.drain()

    jobs = await job_rows(core)
    assert len(jobs) == 2
    job2 = jobs[1]
    assert job2.parent_job_id == job1.id and job2.status is JobStatus.SUCCEEDED
    assert spec_of_row(job2).options.quality is Quality.HIGH
    assert core.emu.routes("openai_edit")[1].fields["quality"] == "high"
    [v2] = [m for m in await drain_sent() if m.attachments]
    assert v2.channel.id == v1.channel.id
    assert v2.content.startswith('v2 · "make it pop"') and " · 1024x640 high · $" in v2.content
    data = file_bytes(v2)
    assert size_of(data) == (1024, 640)
    # HQ re-runs v1's inputs (the red/blue original), not v1 itself: the provider got the
    # original, and the emulator's pixels depend on input and prompt only, so v2 looks like v1.
    first_call, hq_call = core.emu.routes("openai_edit")
    assert provider_inputs(hq_call) == provider_inputs(first_call) != [v1_bytes]
    prompt = core.emu.routes("openai_edit")[1].fields["prompt"]
    assert close(pixel_at(data, 0.25, 0.5), blended((255, 0, 0), prompt))
    # A high-quality result offers no High quality button again.
    assert second.http.custom_ids() == [f"editbot:{a}:{job2.id}" for a in ("retry", "undo")]
    ledger = await read_ledger(core.sessions, scope(second))
    assert ledger.settled == {job1.id: job1.cost_micros, job2.id: job2.cost_micros}


async def test_confirm_by_a_stranger_is_refused_and_by_the_requester_runs(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(
        core, settings=make_settings(tmp_path, EDITBOT_CONFIRM_ABOVE_USD="0.001")
    )
    await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")
    [question] = await drain_sent()
    [job] = await job_rows(core)
    assert job.status is JobStatus.AWAITING_CONFIRM
    assert question.content.startswith("This edit could cost up to $0.")
    confirm = f"editbot:confirm:{job.id}"
    assert bot.http.custom_ids() == [confirm, f"editbot:cancel:{job.id}"]
    components = sent_components(bot, confirm)

    # Bob, without Manage Server, presses Confirm: told no; nothing reserved or run.
    stranger = button_press(
        bot, custom_id=confirm, message=question, components=components, member=bot.bob
    )
    answers = RecordingWebhookAdapter(bot.channel)
    await dispatch_interaction(stranger, answers)
    await bot.worker.drain()
    # Answered to Bob only (an ephemeral followup, flag 64), naming Alice without a ping.
    assert await drain_sent() == []
    [refused] = [c for c in answers.calls if not c.path.endswith("/callback")]
    assert refused.payload["flags"] & 64
    assert refused.payload["content"] == (
        f"Only {bot.alice.display_name} (who asked for this edit) or an admin can confirm it."
    )
    assert refused.payload["allowed_mentions"]["parse"] == []
    [still] = await job_rows(core)
    assert still.status is JobStatus.AWAITING_CONFIRM
    assert core.emu.requests == []
    assert (await read_ledger(core.sessions, scope(bot))).reserved == 0

    # Alice, who asked, presses it: the question becomes the queued status, the job runs.
    mine = button_press(
        bot, custom_id=confirm, message=question, components=components, member=bot.alice
    )
    await dispatch_interaction(mine, RecordingWebhookAdapter(bot.channel))
    question_edits = [p for mid, p in bot.http.edits if mid == question.id]
    assert question_edits[0]["content"] == "Queued - yours is next."
    assert question_edits[0].get("components") == []  # Confirm / Cancel are gone
    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    assert result.channel.id == question.channel.id
    assert result.content.startswith("v1 · ") and " · 1024x640 low · $" in result.content
    [done] = await job_rows(core)
    assert done.status is JobStatus.SUCCEEDED
    ledger = await read_ledger(core.sessions, scope(bot))
    assert ledger.settled == {done.id: done.cost_micros} and ledger.reserved == 0
