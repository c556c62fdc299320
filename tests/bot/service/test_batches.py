"""Use N / Vary N on a job that has no batch to choose from: told so, nothing charged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.domain import Place
from bot.core.ports import Action, ActionPress
from bot.service.batches import NO_BATCH
from storage.db import Sessions
from tests.kit.rig import Rig, images, make_rig


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


@pytest.mark.parametrize("action", [Action.USE, Action.VARY])
async def test_use_or_vary_before_the_result_is_in_does_nothing_paid(
    rig: Rig, action: Action
) -> None:
    await rig.submit("make it blue n=2", *images((250, 0, 0)))
    [job] = await rig.jobs()
    ledger = await rig.ledger()
    place = Place(platform="slack", workspace="T1", channel="C1", user="U1", thread="msg-1")
    await rig.service.press(
        ActionPress(action=action, job_id=job.id, place=place, event_key="k1", index=2)
    )
    assert NO_BATCH in rig.texts()[-1]
    assert await rig.ledger() == ledger and len(await rig.jobs()) == 1
