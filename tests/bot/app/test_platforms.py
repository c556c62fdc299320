"""One `editbot run` process serves Slack and Discord together on one core."""

from __future__ import annotations

from adapters.discord.bot import EditBot
from bot.app.platforms import wire_platforms
from bot.app.root import open_app
from tests.kit.emulator import ProviderEmulator
from tests.kit.settings import make_settings


async def test_both_tokens_give_both_adapters_on_one_edit_service(tmp_path):
    settings = make_settings(
        SLACK_BOT_TOKEN="xoxb-wiring",
        SLACK_SIGNING_SECRET="secret",
        DISCORD_TOKEN="discord-wiring",
        OPENAI_API_KEY=ProviderEmulator().openai_key,
        EDITBOT_DATA_DIR=str(tmp_path / "data"),
    )
    async with open_app(settings) as core:
        runners, closers = wire_platforms(core)
        # Slack's server and the Discord bot run beside the workers; the bot is closed on stop.
        assert len(runners) == 2 and len(closers) == 1
        assert set(core.chats) == {"slack", "discord"}
        assert core.chats["slack"].platform == "slack"
        assert core.chats["discord"].platform == "discord"
        # Workers deliver through the same ports the adapters registered.
        assert core.worker.chats is core.chats
        discord_bot = closers[0].__self__  # type: ignore[attr-defined]
        assert isinstance(discord_bot, EditBot)
        assert discord_bot.service is core.service
        await discord_bot.close()


async def test_slack_only_serves_slack_and_the_web_endpoints(tmp_path):
    settings = make_settings(
        SLACK_BOT_TOKEN="xoxb-wiring",
        SLACK_SIGNING_SECRET="secret",
        OPENAI_API_KEY="sk-wiring",
        EDITBOT_DATA_DIR=str(tmp_path / "data"),
    )
    async with open_app(settings) as core:
        runners, closers = wire_platforms(core)
        assert set(core.chats) == {"slack"} and len(runners) == 1 and closers == []
