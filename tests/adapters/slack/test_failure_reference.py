"""A failed edit through the real AsyncApp and core: plain words with a short reference (never
the 32-character job id), a Retry button, and `editbot job REF` prints that job's history."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.adapters.slack.test_budget_privacy import MAYA, world
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.paths import REPO
from tests.kit.slack.harness import event_callback, file_object, mention
from tests.kit.workers import all_jobs, committed_jobs

TS = "1699999999.000100"


async def test_provider_failure_shows_a_reference_the_operator_can_look_up(
    sqlite_url: str, tmp_path: Path
) -> None:
    emu = ProviderEmulator()
    emu.fail_rate = {"500": 1.0}  # the image service fails every attempt
    async with world(sqlite_url, tmp_path, emu=emu) as w:
        w.h.api.files["p.png"] = split((320, 256))
        event = mention("make it blue quality=low", ts=TS, files=[file_object(w.h.api, "p.png")])
        event["user"] = MAYA
        assert (await w.h.post(event_callback(event, event_id="EvF"))).status_code == 200
        await w.h.api.wait_calls("chat.postMessage")
        await committed_jobs(w.sessions, 1)  # the post comes just before the commit
        await w.core.worker.drain()
        [job] = await all_jobs(w.sessions)
        assert job.status == "failed"
        await w.h.api.wait_for(
            lambda: any(
                "reference" in str(a.get("text")) for a in w.h.api.named("chat.postMessage")
            )
        )
        [told] = [a for a in w.h.api.named("chat.postMessage") if "reference" in str(a["text"])]
    text = str(told["text"])
    assert job.id not in text and not re.search(r"[0-9a-f]{32}", text)
    ref = re.search(r"\(reference ([0-9a-f]{4})-([0-9a-f]{4})\)", text)
    assert ref is not None and job.id.startswith(ref.group(1) + ref.group(2))
    blocks = told["blocks"] if isinstance(told["blocks"], list) else json.loads(told["blocks"])
    assert any(
        e.get("action_id") == "editbot:retry" and e.get("value") == job.id
        for b in blocks
        for e in b.get("elements", [])
    )

    env = {
        **os.environ,
        "EDITBOT_DATABASE_URL": sqlite_url,
        "EDITBOT_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    shown = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "job", f"{ref.group(1)}-{ref.group(2)}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"job {job.id} (failed)" in shown.stdout
    assert "make it blue" in shown.stdout and "reserve" in shown.stdout and "refund" in shown.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "job", "ffff-ffff"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2 and "ref=ffff-ffff" in missing.stderr
