"""The provider emulator as a real HTTP server on 127.0.0.1 (aiohttp), in-loop or in a thread."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.kit.paths import REPO

if TYPE_CHECKING:
    from tests.kit.emulator.images import Renderer
    from tests.kit.emulator.provider import ProviderEmulator


class EmulatorServer:
    """Serves a ProviderEmulator over HTTP; the context value is the base URL."""

    def __init__(self, emulator: ProviderEmulator, *, host: str = "127.0.0.1", port: int = 0):
        self.emulator = emulator
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        origin = f"{request.scheme}://{request.host}"
        reply = await self.emulator.serve(
            request.method, request.path, dict(request.headers), body, origin
        )
        if reply.hang:
            # Longer than any client timeout in the tests; cancelled when the server stops.
            await asyncio.sleep(self.emulator.hang_s)
            return web.Response(status=504)
        if reply.stream is not None:
            streamed = web.StreamResponse(
                status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
            )
            await streamed.prepare(request)
            async for chunk in reply.stream:
                await streamed.write(chunk)
            await streamed.write_eof()
            return streamed
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={"Content-Type": reply.content_type, **reply.headers},
        )

    async def __aenter__(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextmanager
    def in_thread(self) -> Iterator[str]:
        """Run the server on its own event loop in a background thread (for subprocesses)."""
        ready = threading.Event()
        box: dict[str, Any] = {}
        loop = asyncio.new_event_loop()

        async def main() -> None:
            stop = asyncio.Event()
            box["stop"] = stop
            try:
                async with self as url:
                    box["url"] = url
                    ready.set()
                    await stop.wait()
            except BaseException as exc:
                box["error"] = exc
                ready.set()
                raise

        def run() -> None:
            try:
                loop.run_until_complete(main())
            except BaseException:  # reported through box["error"]
                pass
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="provider-emulator", daemon=True)
        thread.start()
        if not ready.wait(10) or "error" in box:
            raise RuntimeError(f"emulator server did not start: {box.get('error')!r}")
        try:
            yield box["url"]
        finally:
            loop.call_soon_threadsafe(box["stop"].set)
            thread.join(10)


@contextmanager
def in_subprocess(*, latency_s: float = 0.0, prerender: Path | None = None) -> Iterator[str]:
    """Run an emulator server in a child process (its own interpreter, GIL and core): the
    provider's work then competes with the process under test only for the machine's cores,
    as a remote provider's would not at all. `prerender`: a file of prompts, one a line, whose
    outputs the child renders before it serves (see `main`)."""
    cmd = [sys.executable, "-m", "tests.kit.emulator", "--latency", str(latency_s)]
    if prerender is not None:
        cmd += ["--prerender", str(prerender)]
    child = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"emulator process did not start (exit {child.poll()})")
        yield line
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the child's cue to stop
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _prerendered(render: Renderer, prompts: list[str]) -> Renderer:
    """`render`, serving outputs rendered now for these prompts (first sample), so that the timed
    part of a benchmark leaves out the emulator's Pillow rendering; other requests render as
    usual."""
    from tests.kit.workers import SMALL_SIZE, small_request

    source = small_request("x").images[0].data
    ready = {p: render(source, size=SMALL_SIZE, prompt=p, index=0, fmt="jpeg") for p in prompts}

    def served(source: bytes, *, prompt: str, index: int, **kw: Any) -> bytes:
        found = ready.get(prompt) if index == 0 and kw.get("size") == SMALL_SIZE else None
        return found if found is not None else render(source, prompt=prompt, index=index, **kw)

    return served


async def _serve_until_stdin_closes(emulator: ProviderEmulator) -> None:
    loop = asyncio.get_running_loop()
    async with EmulatorServer(emulator) as url:
        print(url, flush=True)
        await loop.run_in_executor(None, sys.stdin.buffer.read)


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.kit.emulator`: print the base URL, serve until stdin closes."""
    from tests.kit.emulator.images import render
    from tests.kit.emulator.provider import ProviderEmulator

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--prerender", type=Path, help="file of prompts, one a line")
    args = parser.parse_args(argv)
    if args.prerender is not None:
        render = _prerendered(render, args.prerender.read_text().splitlines())
    emulator = ProviderEmulator(latency_s=args.latency, render=render)
    # The emulator keeps every request for tests to inspect; a long benchmark does not need them.
    emulator.requests = _Discard()
    asyncio.run(_serve_until_stdin_closes(emulator))


class _Discard(list):  # type: ignore[type-arg]
    def append(self, _item: object) -> None:
        pass
