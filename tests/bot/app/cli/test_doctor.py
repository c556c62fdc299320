"""`editbot doctor` as an operator runs it: a subprocess against local fakes."""

import asyncio
import os
import sys

from tests.kit.discord.rest import FakeDiscord
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.slack.api import FakeSlackApi

OPENAI_KEY = "sk-doctor-test-secret-0001"
SLACK_TOKEN = "xoxb-doctor-test-secret-0002"
DISCORD_TOKEN = "discord-doctor-test-secret-0007"


async def _doctor(env: dict[str, str], tmp_path) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EDITBOT_", "SLACK_"))}
    base.pop("OPENAI_API_KEY", None)
    base.pop("DISCORD_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        "doctor",
        env={**base, "EDITBOT_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_fresh_machine_is_told_what_to_set(tmp_path):
    code, out = await _doctor({}, tmp_path)
    assert code == 1
    assert "FAIL  provider openai: OPENAI_API_KEY is not set" in out
    assert "SLACK_BOT_TOKEN and/or DISCORD_TOKEN" in out
    # A database nobody migrated yet is a warning with the command that fixes it.
    assert "editbot db upgrade" in out


async def test_a_working_setup_passes_and_never_prints_secrets(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with EmulatorServer(emu) as base_url, FakeSlackApi(token=SLACK_TOKEN) as slack:
        code, out = await _doctor(
            {
                "OPENAI_API_KEY": OPENAI_KEY,
                "OPENAI_BASE_URL": f"{base_url}/v1",
                "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_SIGNING_SECRET": "signing-secret-0003",
                "SLACK_API_URL": slack.api_url,
            },
            tmp_path,
        )
        assert [c.method for c in slack.calls] == ["auth.test"]
    assert "OK    provider openai" in out
    assert "OK    slack auth" in out
    assert "HTTP mode" in out
    for secret in (OPENAI_KEY, SLACK_TOKEN, "signing-secret-0003"):
        assert secret not in out
    # Only the unmigrated database is left to warn about; nothing fails.
    assert code == 0, out


async def test_a_wrong_slack_token_fails(tmp_path):
    async with FakeSlackApi(token=SLACK_TOKEN) as slack:
        code, out = await _doctor(
            {
                "OPENAI_API_KEY": OPENAI_KEY,
                "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                "SLACK_BOT_TOKEN": "xoxb-wrong",
                "SLACK_APP_TOKEN": "xapp-1",
                "SLACK_API_URL": slack.api_url,
            },
            tmp_path,
        )
    assert code == 1
    assert "FAIL  slack auth: auth.test said invalid_auth" in out
    assert "FAIL  provider openai" in out and "unreachable" in out


async def test_a_base_url_answering_404_is_not_reachable_enough(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with EmulatorServer(emu) as base_url:
        # Without /v1 the models list is not where the edits would go either.
        code, out = await _doctor(
            {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": base_url}, tmp_path
        )
    assert code == 1
    assert (
        f"FAIL  provider openai: {base_url}/models answered 404: is OPENAI_BASE_URL right?" in out
    )


async def test_a_wrong_provider_key_fails_without_being_printed(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY, wavespeed_key="ws-right-0004")
    async with EmulatorServer(emu) as base_url:
        env = {"OPENAI_API_KEY": "sk-wrong-0005", "OPENAI_BASE_URL": f"{base_url}/v1"}
        code, out = await _doctor(env, tmp_path)
        assert code == 1
        assert "FAIL  provider openai: OPENAI_API_KEY was rejected (401)" in out
        env = {"EDITBOT_PROVIDER": "wavespeed", "WAVESPEED_BASE_URL": base_url}
        _, wrong = await _doctor({**env, "WAVESPEED_API_KEY": "ws-wrong-0006"}, tmp_path)
        _, right = await _doctor({**env, "WAVESPEED_API_KEY": "ws-right-0004"}, tmp_path)
    assert "FAIL  provider wavespeed: WAVESPEED_API_KEY was rejected (401)" in wrong
    assert "OK    provider wavespeed: WAVESPEED_API_KEY accepted; balance $12.50" in right
    # Only the free keyed GETs were made: nothing was edited or uploaded.
    assert {r.route for r in emu.requests} == {"openai_models", "balance"}
    assert "sk-wrong-0005" not in out and "ws-wrong-0006" not in wrong


async def test_a_discord_token_is_tried_on_users_me(tmp_path):
    async with FakeDiscord(token=DISCORD_TOKEN) as discord:
        env = {"DISCORD_API_URL": discord.api_url}
        code, bad = await _doctor({**env, "DISCORD_TOKEN": "abc"}, tmp_path)
        _, good = await _doctor({**env, "DISCORD_TOKEN": DISCORD_TOKEN}, tmp_path)
        assert [c[:2] for c in discord.calls] == [("GET", "/users/@me")] * 2
    assert code == 1
    assert "FAIL  discord: DISCORD_TOKEN was rejected (401 Unauthorized)" in bad
    assert "OK    discord: bot editbot; commands sync globally" in good
    assert DISCORD_TOKEN not in good


async def test_doctor_creates_nothing(tmp_path):
    before = sorted(tmp_path.rglob("*"))
    code, out = await _doctor({}, tmp_path)
    assert sorted(tmp_path.rglob("*")) == before
    assert f"WARN  data dir: {tmp_path / 'data'} does not exist yet" in out
