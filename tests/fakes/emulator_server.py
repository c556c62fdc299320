"""The provider emulator as a real HTTP server on 127.0.0.1 (aiohttp), in-loop or in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.emulator import ProviderEmulator


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
