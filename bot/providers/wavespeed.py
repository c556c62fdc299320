"""WaveSpeedAI client: upload inputs, submit a task, poll it, download the outputs.

Decisions (REFERENCE.md):
- The submit POST is not idempotent (a task costs money once it exists). It is retried only
  when the request surely never left (no connection), on 429, or on a 5xx whose body is the
  API's own envelope without a task id (the API answered and created nothing). A timeout or a
  broken connection after sending, or a gateway's 5xx page, is final: the task may exist.
- `quality=auto` is sent as `high`: WaveSpeed has no auto, and editbot prices auto as high, so
  the charge then matches the estimate's upper bound.
- WaveSpeed has no `n`: n tasks are submitted; `on_task_id` gets the comma-separated ids,
  after each submit (so a crash between two submits still leaves a record of the first).
- Failed-task codes 1403/1405/5000/5003/5004 raise ProviderError (not retryable here): the
  task is over, and whether to pay for a new one is the job layer's decision.
- Masks are not part of WaveSpeed's edit API: a request with one is refused before uploading.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from PIL import Image

from bot.core.domain import ProviderName, Quality
from bot.core.edits import (
    EditRequest,
    EditResult,
    OnProgress,
    OnTaskId,
    OutputImage,
    Progress,
    Stage,
)
from bot.core.errors import ContentRejected, OptionError, ProviderError, ProviderRejected
from bot.providers.http_errors import (
    json_body,
    scrub,
    status_error,
    surely_not_sent,
    transport_error,
)
from bot.providers.openai import image_filename, summarize
from bot.providers.retry import Deadline, RetryPolicy, Sleep, with_retries

log = logging.getLogger(__name__)

T = TypeVar("T")
LABEL = "WaveSpeed"
MODEL_PATH = "/api/v3/openai/gpt-image-2/edit"
FINAL_FAILED = frozenset({"failed", "cancelled", "canceled", "timeout"})
_REJECTED_CODES = frozenset({1400, 1401})
_REFUSED = (
    "The image service's safety system refused this edit. Try rewording the prompt or "
    "using different images."
)
_MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _probe(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as im:
        return _MIMES.get(im.format or "", "application/octet-stream"), im.size


class WaveSpeedProvider:
    """gpt-image-2 edits through WaveSpeedAI's submit-and-poll API."""

    name = ProviderName.WAVESPEED

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        retry: RetryPolicy,
        deadline_s: float,
        poll_interval_s: float = 1.0,
        max_poll_interval_s: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._key = api_key
        self.retry = retry
        self.deadline_s = deadline_s
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max(max_poll_interval_s, poll_interval_s)
        self._sleep = sleep
        self._rng = rng

    # -- what goes on the wire ---------------------------------------------------------------

    def payload(self, request: EditRequest, urls: list[str]) -> dict[str, object]:
        """The submit JSON for these uploaded image URLs."""
        opts = request.options
        quality = Quality.HIGH if opts.quality is Quality.AUTO else opts.quality
        return {
            "images": urls,
            "prompt": request.prompt,
            "aspect_ratio": request.aspect,
            "resolution": opts.resolution.value,
            "quality": quality.value,
            "enable_base64_output": False,
            "enable_sync_mode": False,
        }

    def preview(self, request: EditRequest) -> dict[str, object]:
        """The submit JSON as it would be sent, with uploads named instead of their URLs."""
        self._refuse_mask(request)
        names = [image_filename(img, i) for i, img in enumerate(request.images)]
        return {
            "uploads": [
                summarize(img, name) for img, name in zip(request.images, names, strict=True)
            ],
            "POST": self._base + MODEL_PATH,
            "tasks": request.options.n,
            **self.payload(request, [f"<upload of {name}>" for name in names]),
        }

    @staticmethod
    def _refuse_mask(request: EditRequest) -> None:
        if request.mask is not None:
            raise OptionError("Masks work with the openai provider only; drop mask= or switch.")

    # -- the run -----------------------------------------------------------------------------

    async def edit(
        self,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
        on_task_id: OnTaskId | None = None,
    ) -> EditResult:
        """Upload, submit (n tasks), report the task ids, then poll and download."""
        self._refuse_mask(request)
        run = _Run(self, Deadline(self.deadline_s), on_progress)
        await run.emit(Stage.UPLOADING, f"{len(request.images)} image(s)")
        urls = []
        for i, img in enumerate(request.images):
            urls.append(await run.upload(img.data, image_filename(img, i), img.mime))
        payload = self.payload(request, urls)
        ids: list[str] = []
        for _ in range(request.options.n):
            ids.append(await run.submit(payload))
            if on_task_id is not None:
                await on_task_id(",".join(ids))
        return await run.finish(ids)

    async def resume(
        self, task_id: str, request: EditRequest, *, on_progress: OnProgress | None = None
    ) -> EditResult:
        """Poll task(s) submitted earlier (comma-separated ids) to the end; submits nothing."""
        ids = [t.strip() for t in task_id.split(",") if t.strip()]
        if not ids:
            raise ValueError("resume needs at least one task id")
        run = _Run(self, Deadline(self.deadline_s), on_progress)
        return await run.finish(ids)


class _Run:
    """One edit's state: its deadline, progress callback and HTTP calls."""

    def __init__(
        self, provider: WaveSpeedProvider, deadline: Deadline, on_progress: OnProgress | None
    ) -> None:
        self.p = provider
        self.deadline = deadline
        self.on_progress = on_progress
        self.auth = {"Authorization": f"Bearer {provider._key}"}

    async def emit(self, stage: Stage, detail: str = "") -> None:
        if self.on_progress is not None:
            await self.on_progress(Progress(stage, self.deadline.elapsed(), detail))

    async def _retrying(self, what: str, attempt: Callable[[float], Awaitable[T]]) -> T:
        async def on_retry(retry: int, exc: ProviderError, wait: float) -> None:
            log.warning("wavespeed %s retry %d in %.1fs: %s", what, retry, wait, exc)
            detail = f"{what}: retry {retry} of {self.p.retry.max_retries} in {wait:.0f}s"
            if self.on_progress is not None:
                await self.on_progress(
                    Progress(
                        Stage.RETRYING,
                        self.deadline.elapsed(),
                        detail,
                        retry=retry,
                        max_retries=self.p.retry.max_retries,
                        wait_s=wait,
                    )
                )

        return await with_retries(
            attempt,
            policy=self.p.retry,
            deadline=self.deadline,
            sleep=self.p._sleep,
            on_retry=on_retry,
            rng=self.p._rng,
        )

    def _fail(self, response: httpx.Response) -> ProviderError:
        body = json_body(response)
        message = scrub(str(body.get("message") or ""), self.p._key)
        code = body.get("code")
        return status_error(
            response, message=message, code=str(code) if code else None, label=LABEL
        )

    async def _get(self, url: str, timeout: float, *, auth: bool) -> httpx.Response:
        """An idempotent GET: transport failures and 408/429/5xx come back as retryable."""
        try:
            response = await self.p._client.get(
                url, headers=self.auth if auth else None, timeout=httpx.Timeout(timeout)
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, label=LABEL) from None
        if not response.is_success:
            raise self._fail(response)
        return response

    async def upload(self, data: bytes, filename: str, mime: str) -> str:
        """Upload one input; returns its download URL. Retried: a retry only makes a new URL."""

        async def attempt(timeout: float) -> str:
            try:
                response = await self.p._client.post(
                    self.p._base + "/api/v3/media/upload/binary",
                    files={"file": (filename, data, mime)},
                    headers=self.auth,
                    timeout=httpx.Timeout(timeout),
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, label=LABEL) from None
            if not response.is_success:
                raise self._fail(response)
            url = (json_body(response).get("data") or {}).get("download_url")
            if not isinstance(url, str) or not url:
                raise ProviderError("WaveSpeed upload answered without a download_url")
            return url

        return await self._retrying("upload", attempt)

    async def submit(self, payload: dict[str, object]) -> str:
        """Create one task; returns its id. Never re-sent once it may have reached the API."""

        async def attempt(timeout: float) -> str:
            try:
                response = await self.p._client.post(
                    self.p._base + MODEL_PATH,
                    json=payload,
                    headers=self.auth,
                    timeout=httpx.Timeout(timeout),
                )
            except httpx.HTTPError as exc:
                if surely_not_sent(exc):
                    raise transport_error(exc, label=LABEL) from None
                raise ProviderError(
                    f"WaveSpeed submit got no answer ({type(exc).__name__}); the task may "
                    "exist and be billed, so it is not sent again"
                ) from None
            body = json_body(response)
            data = body.get("data") if isinstance(body.get("data"), dict) else None
            task_id = data.get("id") if data else None
            if response.is_success and task_id:
                return str(task_id)
            error = self._fail(response)
            status = response.status_code
            if status == 429:
                raise error
            if status >= 500 and "code" in body and not task_id:
                raise error  # the API itself answered and created nothing
            if response.is_success or status >= 500:
                raise ProviderError(
                    f"{error} (the task may exist; not sent again)", status=status, code=error.code
                )
            raise ProviderRejected(str(error), status=status, code=error.code)

        return await self._retrying("submit", attempt)

    async def poll(self, task_id: str) -> dict[str, Any]:
        """One GET of the task's result; returns the envelope."""
        url = f"{self.p._base}/api/v3/predictions/{task_id}/result"

        async def attempt(timeout: float) -> dict[str, Any]:
            response = await self._get(url, timeout, auth=True)
            return json_body(response)

        return await self._retrying("poll", attempt)

    async def finish(self, ids: list[str]) -> EditResult:
        """Poll every task to completion with growing intervals, then download the outputs."""
        outputs: dict[str, list[str]] = {}
        last_stage: Stage | None = None
        interval = self.p.poll_interval_s
        while True:
            stages = []
            for task_id in ids:
                if task_id in outputs:
                    continue
                envelope = await self.poll(task_id)
                data = envelope.get("data") or {}
                status = str(data.get("status") or "")
                if status == "completed":
                    outputs[task_id] = [str(o) for o in data.get("outputs") or []]
                elif status in FINAL_FAILED or (envelope.get("code") not in (None, 200)):
                    raise self._task_failure(task_id, envelope)
                else:
                    stages.append(Stage.QUEUED if status == "created" else Stage.RUNNING)
            if len(outputs) == len(ids):
                break
            stage = Stage.RUNNING if Stage.RUNNING in stages else Stage.QUEUED
            if stage is not last_stage:
                await self.emit(stage, f"{len(outputs)} of {len(ids)} task(s) done")
                last_stage = stage
            left = self.deadline.check()
            await self.p._sleep(min(interval, left))
            interval = min(self.p.max_poll_interval_s, interval * 1.5)
        links = [link for task_id in ids for link in outputs[task_id]]
        if not links:
            raise ProviderError("WaveSpeed finished the task without outputs")
        await self.emit(Stage.DOWNLOADING, f"{len(links)} image(s)")
        datas = [await self.download(link) for link in links]
        mime, size = await asyncio.to_thread(_probe, datas[0])
        images = []
        for data in datas:
            kind = mime if data is datas[0] else (await asyncio.to_thread(_probe, data))[0]
            images.append(OutputImage(data=data, mime=kind))
        return EditResult(
            provider=ProviderName.WAVESPEED, images=tuple(images), size=size, task_id=",".join(ids)
        )

    async def download(self, output: str) -> bytes:
        """An output's bytes: fetched from its URL, or decoded when it came as bare base64."""
        if not output.startswith(("http://", "https://")):
            return base64.b64decode(output)

        async def attempt(timeout: float) -> bytes:
            # Output URLs are public CDN links; our key stays with the API host.
            return (await self._get(output, timeout, auth=False)).content

        return await self._retrying("download", attempt)

    def _task_failure(self, task_id: str, envelope: dict[str, Any]) -> Exception:
        data = envelope.get("data") or {}
        raw_code = envelope.get("code")
        if raw_code in (None, 200):
            raw_code = data.get("code")
        try:
            code = int(raw_code) if raw_code is not None else None
        except (TypeError, ValueError):
            code = None
        message = scrub(str(data.get("error") or envelope.get("message") or ""), self.p._key)
        status = str(data.get("status") or "failed")
        if code == 1200:
            return ContentRejected(f"{_REFUSED} (WaveSpeed said: {message})")
        text = f"WaveSpeed task {task_id} {status} (code {code}): {message}"
        if code in _REJECTED_CODES:
            return ProviderRejected(text, code=str(code))
        if code == 1402:
            return ProviderRejected(
                f"{text} - WaveSpeed could not fetch an uploaded input", code=str(code)
            )
        return ProviderError(text, code=str(code) if code is not None else None)
