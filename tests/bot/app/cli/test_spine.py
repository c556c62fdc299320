"""Every `editbot` command reads settings one way and exits the same way: real subprocesses.

0 ok, 2 the user's or the configuration's mistake (one line naming what to change, no
traceback), 1 anything else (bot.app.cli.spine).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.kit.paths import REPO as REPO_ROOT

REPO = REPO_ROOT

COMMANDS = [
    ["run"],
    ["worker", "--concurrency", "1"],
    ["edit", "--prompt", "make it blue", "in.png"],
    ["doctor"],
    ["budget", "show", "--scope", "slack:T1:C1"],
    ["usage", "--since", "2026-11-01"],
    ["db", "upgrade"],
    ["prune"],
]


async def editbot(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDITBOT_", "SLACK_", "DISCORD_", "OPENAI_", "WAVESPEED_"))
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        *args,
        env={**base, "PYTHONPATH": str(REPO), "EDITBOT_DATA_DIR": str(cwd / "data"), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_a_bad_setting_is_one_line_and_exit_2_in_every_command(tmp_path: Path) -> None:
    env = {
        "EDITBOT_BUDGET_PERIOD": "year",
        "OPENAI_API_KEY": "sk-spine",
        "SLACK_BOT_TOKEN": "x",
        "SLACK_SIGNING_SECRET": "y",
    }
    results = await asyncio.gather(*(editbot(args, env, tmp_path) for args in COMMANDS))
    for args, (code, out, err) in zip(COMMANDS, results, strict=True):
        assert code == 2, (args, out, err)
        lines = err.strip().splitlines()
        # One line per problem (the reading commands also hear there is no database yet).
        assert all(line.startswith(f"editbot {args[0]}") for line in lines), (args, err)
        assert len([line for line in lines if "EDITBOT_BUDGET_PERIOD" in line]) == 1, err
        assert "Traceback" not in err and "sk-spine" not in err + out


async def test_run_without_a_chat_platform_exits_2_saying_what_to_set(tmp_path: Path) -> None:
    code, _, err = await editbot(["run"], {"OPENAI_API_KEY": "sk-spine"}, tmp_path)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("editbot run: configuration:")
    assert "SLACK_BOT_TOKEN" in line and "DISCORD_TOKEN" in line


async def test_a_users_mistake_exits_2_and_a_success_exits_0(tmp_path: Path) -> None:
    code, out, _ = await editbot(["db", "upgrade"], {}, tmp_path)
    assert code == 0 and "database is up to date" in out
    code, _, err = await editbot(["budget", "show", "--scope", "nonsense"], {}, tmp_path)
    assert code == 2 and "--scope must look like" in err
    code, out, err = await editbot(["budget", "show", "--scope", "slack:T1:C1"], {}, tmp_path)
    assert code == 0, err
    assert "Channel budget: $20.00 a month" in out
