"""A refused edit run cheaper by its button, and the 80% warning to every admin: the real core
over a FakeChat (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.domain import Quality
from bot.core.jobs import JobStatus, decode_request
from bot.core.ports import Action, ActionButton, ActionPress, MessageRef
from storage.db import Sessions
from storage.models import LedgerKind
from tests.kit.rig import Rig, images, make_rig


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def press_cheaper(rig: Rig, button: ActionButton, *, on: MessageRef) -> None:
    """The requester presses `button` on the message `on`."""
    rig.advance(timedelta(seconds=1))
    press = ActionPress(
        button.action,
        button.job_id,
        on.place,
        event_key=rig.key(),
        message_id=on.message_id,
        index=button.index,
    )
    await rig.service.press(press)


async def test_a_refused_mode_each_batch_runs_whole_at_the_quality_pressed(rig: Rig) -> None:
    colours = ((250, 0, 0), (0, 250, 0), (0, 0, 250))
    await rig.submit("make it blue", *images(colours[0]), key="probe")
    [probe] = await rig.jobs()
    each = probe.estimate_micros  # quality=medium
    # Room for two and a half more at medium once the probe is held: all three fit at low.
    await rig.set_cap(each * 3 + each // 2)
    await rig.submit("make it blue mode=each", *images(*colours), message_id="m3")
    [refusal] = rig.chat.in_thread("m3")
    assert "Not run" in refusal.text
    [low] = refusal.actions
    assert (low.action, low.index) == (Action.CHEAPER, 1)
    assert low.label.startswith("Run at quality=low ~$0.")
    kept = [j for j in await rig.jobs() if j.status is JobStatus.CANCELLED]
    assert len(kept) == 3 and {j.error for j in kept} == {"budget refused"}

    await press_cheaper(rig, low, on=refusal.ref)
    ran = [j for j in await rig.jobs() if j.parent_job_id == low.job_id]
    assert len(ran) == 3 and {j.status for j in ran} == {JobStatus.QUEUED}
    assert {decode_request(j.options_json)[0].quality for j in ran} == {Quality.LOW}
    # The three images of the refused batch, one per job, as they were stored.
    ran_inputs = {i.sha256 for j in ran for i in await rig.inputs(j.id)}
    assert ran_inputs == {i.sha256 for j in kept for i in await rig.inputs(j.id)}
    # Reserved: the probe and the three cheaper jobs; never the refused ones.
    reserves = [e.job_id for e in await rig.ledger() if e.kind is LedgerKind.RESERVE]
    assert sorted(reserves) == sorted(j.id for j in [probe, *ran])
    assert rig.chat.in_thread("m3")[0].pressed == "Running at quality=low..."


async def test_the_warning_goes_to_platform_admins_and_editbot_admins_once_each(
    rig: Rig,
) -> None:
    rig.chat.platform_admins = ["UOWNER", "UADMIN"]  # UADMIN is in EDITBOT_ADMINS too
    await rig.submit("make it blue quality=low", *images((5, 5, 5)), key="probe")
    [probe] = await rig.jobs()
    await rig.set_cap(probe.estimate_micros * 3, warn_percent=50)
    await rig.submit("make it blue quality=low", *images((5, 5, 5)), message_id="w1")
    await rig.submit("make it blue quality=low", *images((5, 5, 5)), message_id="w2")
    told = sorted(user for user, text, _ in rig.chat.direct if "Heads up" in text)
    assert told == ["UADMIN", "UOWNER"]


async def test_a_cheaper_run_refused_in_turn_keeps_the_first_buttons_and_runs_later(
    rig: Rig,
) -> None:
    await rig.submit("make it blue quality=low", *images((9, 9, 9)), key="low")
    await rig.submit("make it blue", *images((9, 9, 9)), key="medium")
    low, medium = (j.estimate_micros for j in await rig.jobs())
    held = low + medium  # both probes stay reserved (nothing drains the queue)
    await rig.set_cap(held + (low + medium) // 2)  # medium is refused, low fits
    await rig.submit("make it blue", *images((9, 9, 9)), message_id="m3")
    [refusal] = rig.chat.in_thread("m3")
    [button] = refusal.actions

    await rig.set_cap(held + low // 2)  # the budget moved: low no longer fits either
    await press_cheaper(rig, button, on=refusal.ref)
    again = rig.chat.in_thread("m3")[1:]
    assert [m.text.startswith("Not run") for m in again] == [True] and again[0].actions == ()
    [kept] = [j for j in await rig.jobs() if j.status is JobStatus.CANCELLED]
    assert kept.error == "budget refused"  # the claim went back with the refusal
    assert refusal.pressed is None

    await rig.set_cap(2 * held)
    rig.advance(timedelta(seconds=10))  # past the 5 s in which a repeat press does nothing
    await press_cheaper(rig, button, on=refusal.ref)
    [ran] = [j for j in await rig.jobs() if j.parent_job_id == kept.id]
    assert ran.status is JobStatus.QUEUED and ran.estimate_micros == low
    assert refusal.pressed == "Running at quality=low..."
