"""`editbot edit`: run one edit from the command line through the same core as the bots.

prepare_edit -> build_provider -> provider.edit per request -> pricing.settle; results are
written to files, their paths and the cost go to stdout, progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import SecretStr

from bot.app.cli.checks import provider_key
from bot.app.cli.spine import command
from bot.core.config import Settings
from bot.core.domain import Cost, NormalizedImage, ProviderName, format_usd
from bot.core.edits import OutputImage, Progress
from bot.core.errors import UserError
from bot.core.options import parse_options
from bot.core.ports import Provider
from bot.core.pricing import PriceTable, settle
from bot.images.intake import ImageLimits
from bot.providers.factory import build_provider
from bot.service.prepare import InputFile, PreparedEdit, prepare_edit

HEARTBEAT_S = 10.0
"""Seconds between "still <stage>" lines on stderr while the stage does not change."""

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def register(subparsers: Any) -> None:
    """Add the `edit` subcommand."""
    parser = subparsers.add_parser(
        "edit",
        help="run one image edit and write the result",
        description=(
            "Run one edit through editbot's core. Options go inline in the prompt, as in chat: "
            '--prompt "make the sky purple quality=high aspect=16:9 n=2".'
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", type=Path, help="input image(s)")
    parser.add_argument("--prompt", required=True, help="what to change, with inline options")
    parser.add_argument(
        "--out",
        type=Path,
        help="output file (several results: PATH-1.png, PATH-2.png...) or an existing directory",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite --out when the file exists already"
    )
    parser.add_argument(
        "--provider",
        choices=[p.value for p in ProviderName],
        help="provider to use (default: EDITBOT_PROVIDER)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the normalized inputs, the request and the estimate; send nothing",
    )
    parser.add_argument("--verbose", action="store_true", help="tracebacks for internal errors")
    parser.set_defaults(func=command("edit", run, checks=[provider_key]))


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the edit: results to files, their paths and the cost to stdout."""
    return asyncio.run(_edit(args, settings, out=sys.stdout, err=sys.stderr))


async def _edit(args: argparse.Namespace, settings: Settings, *, out: TextIO, err: TextIO) -> int:
    _check_out(args.out)
    provider_name = ProviderName(args.provider) if args.provider else settings.provider
    table = PriceTable.from_settings(settings)
    files = await asyncio.gather(*(_read_input(path) for path in args.images))
    prompt, options = parse_options(args.prompt, max_n=settings.max_n)
    prepared = await prepare_edit(
        prompt=prompt,
        options=options,
        files=files,
        limits=ImageLimits.from_settings(settings),
        provider=provider_name,
        table=table,
    )
    if not args.dry_run and not args.force:
        _refuse_overwrite(args.out, count=len(prepared.requests) * prepared.options.n)
    if args.dry_run:
        # Nothing is sent, so no key is needed: a placeholder lets the provider be built.
        settings = _with_placeholder_keys(settings)
    async with httpx.AsyncClient(timeout=_client_timeout(settings)) as client:
        provider = build_provider(settings, client, name=provider_name)
        if args.dry_run:
            _print_dry_run(prepared, provider=provider, out=out)
            return 0
        await _run_requests(
            prepared, provider=provider, table=table, out_path=args.out, out=out, err=err
        )
    return 0


async def _read_input(path: Path) -> InputFile:
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as e:
        raise UserError(f"can't read {path}: {e.strerror or e}") from e
    return InputFile(name=path.name, data=data)


def _check_out(out_path: Path | None) -> None:
    # Checked before anything is sent: a paid result must have somewhere to go.
    if out_path is None or out_path.is_dir():
        return
    if not out_path.parent.is_dir():
        raise UserError(f"--out {out_path}: the folder {out_path.parent} does not exist.")


def _refuse_overwrite(out_path: Path | None, *, count: int) -> None:
    # A file someone has is never replaced by surprise; the stamped default names are new.
    if out_path is None or out_path.is_dir():
        return
    for index in range(1, count + 1):
        path = _output_path(out_path, index=index, count=count, image=None, stamp="")
        if path.exists():
            raise UserError(f"--out {path} exists already: add --force to overwrite it.")


def _with_placeholder_keys(settings: Settings) -> Settings:
    update: dict[str, Any] = {}
    if settings.openai_api_key is None:
        update["openai_api_key"] = SecretStr("dry-run")
    if settings.wavespeed_api_key is None:
        update["wavespeed_api_key"] = SecretStr("dry-run")
    return settings.model_copy(update=update)


def _client_timeout(settings: Settings) -> httpx.Timeout:
    # An OpenAI edit is one long POST: reads may take up to the whole job deadline.
    return httpx.Timeout(connect=10.0, read=settings.job_deadline_s, write=60.0, pool=10.0)


def _describe_image(image: NormalizedImage) -> str:
    return (
        f"{image.name}  {image.width}x{image.height}  {image.mime}  "
        f"{len(image.data):,} bytes  sha256 {image.sha256[:12]}"
    )


def _print_dry_run(prepared: PreparedEdit, *, provider: Provider, out: TextIO) -> None:
    print(f"prompt: {prepared.prompt}", file=out)
    print(f"options: {prepared.options.describe()}", file=out)
    print("inputs:", file=out)
    for i, image in enumerate(prepared.inputs, 1):
        print(f"  {i}. {_describe_image(image)}", file=out)
    if prepared.mask:
        print(f"mask: {_describe_image(prepared.mask)}", file=out)
    total = len(prepared.requests)
    for i, request in enumerate(prepared.requests, 1):
        print(f"request {i} of {total} ({provider.name.value}):", file=out)
        body = json.dumps(provider.preview(request), indent=2, default=str)
        print("\n".join(f"  {line}" for line in body.splitlines()), file=out)
    print(
        f"estimate: {format_usd(prepared.estimate.micros)} ({prepared.estimate.detail})", file=out
    )
    print("dry run: nothing was sent", file=out)


class _ProgressLines:
    """Writes a stderr line when the stage changes, and a heartbeat while it does not."""

    def __init__(self, *, err: TextIO, label: str) -> None:
        self._err = err
        self._label = label
        self._start = time.monotonic()
        self._stage = "sending"
        self._last_line = self._start

    def _write(self, text: str) -> None:
        now = time.monotonic()
        self._last_line = now
        print(f"{self._label}{text}... {now - self._start:.0f}s", file=self._err, flush=True)

    def start(self) -> None:
        self._write(self._stage)

    async def on_progress(self, progress: Progress) -> None:
        if progress.stage.value != self._stage:
            self._stage = progress.stage.value
            detail = f" ({progress.detail})" if progress.detail else ""
            self._write(f"{self._stage}{detail}")

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if time.monotonic() - self._last_line >= HEARTBEAT_S:
                self._write(f"still {self._stage}")


async def _run_requests(
    prepared: PreparedEdit,
    *,
    provider: Provider,
    table: PriceTable,
    out_path: Path | None,
    out: TextIO,
    err: TextIO,
) -> None:
    total = len(prepared.requests)
    expected = total * prepared.options.n
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    costs: list[Cost] = []
    written = 0
    for i, request in enumerate(prepared.requests, 1):
        label = f"[{i}/{total}] " if total > 1 else ""
        lines = _ProgressLines(err=err, label=label)
        lines.start()
        ticker = asyncio.create_task(lines.heartbeat())
        try:
            result = await provider.edit(request, on_progress=lines.on_progress)
        finally:
            ticker.cancel()
        print(f"{label}done", file=err, flush=True)
        costs.append(settle(provider=provider.name, request=request, result=result, table=table))
        for image in result.images:
            written += 1
            path = _output_path(
                out_path, index=written, count=max(expected, written), image=image, stamp=stamp
            )
            await asyncio.to_thread(path.write_bytes, image.data)
            print(path, file=out, flush=True)
    micros = sum(c.micros for c in costs)
    details = "; ".join(c.detail for c in costs)
    print(f"cost: {format_usd(micros)} ({details})", file=out)
    print(
        f"estimate was: {format_usd(prepared.estimate.micros)} ({prepared.estimate.detail})",
        file=out,
    )


def _output_path(
    out_path: Path | None, *, index: int, count: int, image: OutputImage | None, stamp: str
) -> Path:
    """Where result `index` (1-based) of `count` goes (the extension from the image, if any)."""
    ext = _EXTENSIONS.get(image.mime, "png") if image is not None else "png"
    suffix = f"-{index}" if count > 1 else ""
    if out_path is None or out_path.is_dir():
        directory = out_path or Path(".")
        return directory / f"edit-{stamp}{suffix}.{ext}"
    if count == 1:
        return out_path
    return out_path.with_name(f"{out_path.stem}{suffix}{out_path.suffix or '.' + ext}")
