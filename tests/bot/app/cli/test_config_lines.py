"""An operator's mistakes, as real `editbot` subprocesses: every problem in one run, one line
each naming the variable or option, exit 2, no traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from tests.bot.app.cli.test_spine import REPO, editbot
from tests.kit.slack.api import FakeSlackApi

TOKEN = "xoxb-config-lines-0001"


def _problems(err: str, prog: str) -> list[str]:
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    for line in lines:
        assert line.startswith(f"{prog}: configuration: "), err
    return [line.removeprefix(f"{prog}: configuration: ") for line in lines]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_every_bad_setting_and_option_is_one_line_in_the_same_run(tmp_path: Path) -> None:
    env = {"EDITBOT_PRICES": "not json", "EDITBOT_BUDGET_PERIOD": "year"}
    args = ["worker", "--concurrency", "-3", "--lease", "-1", "--grace", "-5"]
    code, out, err = await editbot([*args, "--log-level", "LOUD"], env, tmp_path)
    assert code == 2, err
    problems = _problems(err, "editbot worker")
    named = [p.split(":")[0] for p in problems]
    assert named == [
        "EDITBOT_PRICES",
        "EDITBOT_BUDGET_PERIOD",
        "--log-level",
        "OPENAI_API_KEY is not set",
        "--concurrency",
        "--lease",
        "--grace",
    ], problems
    assert "not JSON" in problems[0] and "'day', 'week', 'month' or 'none'" in problems[1]
    assert "LOUD" in problems[2] and "got -3" in problems[4]


async def test_a_missing_key_is_exit_2_in_run_and_in_worker_alike(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "s"}
    for args in (["run"], ["worker"]):
        code, _, err = await editbot(args, env, tmp_path)
        assert code == 2, err
        assert _problems(err, f"editbot {args[0]}") == [
            "OPENAI_API_KEY is not set: the openai provider needs an API key"
        ]


async def test_slack_without_a_way_to_receive_events_is_named(tmp_path: Path) -> None:
    code, _, err = await editbot(
        ["run"], {"SLACK_BOT_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}, tmp_path
    )
    assert code == 2
    [problem] = _problems(err, "editbot run")
    assert "SLACK_APP_TOKEN" in problem and "SLACK_SIGNING_SECRET" in problem


async def test_an_unwritable_data_dir_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {"EDITBOT_DATA_DIR": str(blocker / "data"), "OPENAI_API_KEY": "k"}
    for args in (["db", "upgrade"], ["worker"]):
        code, _, err = await editbot(args, env, tmp_path)
        assert code == 2, err
        [problem] = _problems(err, f"editbot {' '.join(args)}")
        assert problem.startswith(f"EDITBOT_DATA_DIR: {blocker / 'data'} is not a writable folder")


async def test_an_unreachable_postgresql_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://editbot:hunter2-secret@127.0.0.1:{_free_port()}/editbot"
    env = {"EDITBOT_DATABASE_URL": url, "OPENAI_API_KEY": "k"}
    for args in (["db", "upgrade"], ["worker"]):
        code, out, err = await editbot(args, env, tmp_path)
        assert code == 2, err
        [problem] = _problems(err, f"editbot {' '.join(args)}")
        assert problem.startswith("EDITBOT_DATABASE_URL: cannot connect"), problem
        assert "refused" in problem.lower()
        assert "hunter2-secret" not in out + err


async def test_reading_commands_in_a_fresh_directory_say_what_to_run(tmp_path: Path) -> None:
    for args in (["budget", "show", "--scope", "slack:T1:C1"], ["usage", "--since", "2026-11-01"]):
        code, _, err = await editbot(args, {}, tmp_path)
        assert code == 2, err
        [problem] = _problems(err, f"editbot {args[0]}")
        assert "run `editbot db upgrade` first" in problem
    assert not (tmp_path / "data").exists()


async def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeSlackApi(token=TOKEN) as slack:
            env = {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_API_URL": slack.api_url,
                "OPENAI_API_KEY": "k",
                "EDITBOT_HTTP_PORT": str(port),
            }
            code, _, err = await editbot(["run"], env, tmp_path)
    assert code == 2, err
    problems = [line for line in err.splitlines() if line.startswith("editbot run:")]
    assert problems == [
        f"editbot run: configuration: EDITBOT_HTTP_PORT: port {port} is already in use"
    ]
    assert "Traceback" not in err


async def test_the_workers_lease_follows_EDITBOT_LEASE_S(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EDITBOT_", "OPENAI_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        "worker",
        env={
            **base,
            "PYTHONPATH": str(REPO),
            "EDITBOT_DATA_DIR": str(tmp_path / "data"),
            "OPENAI_API_KEY": "k",
            "EDITBOT_LEASE_S": "7",
        },
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(60):
            while b"concurrent jobs" not in (line := await proc.stderr.readline()):
                assert line, "the worker ended before saying what it runs"
        assert b"lease 7 s" in line, line
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
