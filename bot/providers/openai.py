"""OpenAI Images API client: one multipart POST {base}/images/edits per edit.

Request decisions (REFERENCE.md): `image[]` per input, even for one image, so one code path
serves 1..16 inputs; never `response_format` (GPT image models always answer b64_json), never
`input_fidelity` (gpt-image-2 refuses it, even empty), never `moderation` (not an edit field).
`background` is sent only when it is not `auto`: auto is the endpoint's default, and leaving it
out keeps the request the documented minimal one. `output_compression` is not sent: the
default (100) is what we want, and it only applies to jpeg/webp.

With `partial_images` > 0 an edit of one output streams (`stream=true`, bot.providers.
openai_stream): each partial image reaches `on_progress` as a preview, and the completed
event's image and usage are the result. Edits of several outputs never stream.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import random
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import Any

import httpx
from PIL import Image

from bot.core.domain import Background, NormalizedImage, ProviderName
from bot.core.edits import (
    EditRequest,
    EditResult,
    OnProgress,
    OnTaskId,
    OutputImage,
    Progress,
    Stage,
    Usage,
)
from bot.core.errors import ContentRejected, DeadlineExceeded, ProviderError, ProviderRejected
from bot.core.pricing import streamed_previews
from bot.providers.http_errors import json_body, scrub, status_error, transport_error
from bot.providers.multipart import encode_multipart
from bot.providers.openai_stream import read_edit_stream
from bot.providers.retry import Deadline, RetryPolicy, Sleep, with_retries

log = logging.getLogger(__name__)

LABEL = "OpenAI"
MIMES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_CHUNK = 64 * 1024
_REFUSED = (
    "The image service's safety system refused this edit. Try rewording the prompt or "
    "using different images."
)


def image_filename(image: NormalizedImage, index: int) -> str:
    """A file name whose extension matches the bytes (the API checks it against the type)."""
    stem = PurePath(image.name).stem.replace('"', "").strip() or f"image{index + 1}"
    return f"{stem}.{image.extension}"


def summarize(image: NormalizedImage, filename: str) -> dict[str, object]:
    """An image as shown in a preview: no bytes, enough to recognise it."""
    return {
        "name": filename,
        "mime": image.mime,
        "size": f"{image.width}x{image.height}",
        "bytes": len(image.data),
        "sha256": hashlib.sha256(image.data).hexdigest()[:12],
    }


def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def _is_refusal(error: dict[str, Any]) -> bool:
    if error.get("code") == "moderation_blocked":
        return True
    message = str(error.get("message", "")).lower()
    return error.get("type") == "image_generation_user_error" and (
        "moderation" in message or "safety" in message
    )


class OpenAIProvider:
    """gpt-image-2 edits through OpenAI's Images API, over an injected httpx.AsyncClient."""

    name = ProviderName.OPENAI

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        model: str = "gpt-image-2",
        retry: RetryPolicy,
        deadline_s: float,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        partial_images: int = 0,
    ) -> None:
        """`partial_images` (0..3, EDITBOT_PREVIEWS): previews an edit of one output streams."""
        self._client = client
        self.partial_images = partial_images
        self._url = base_url.rstrip("/") + "/images/edits"
        self._parsed = (self._url, httpx.URL(self._url))
        self._key = api_key
        self._authorization = f"Bearer {api_key}"
        self.model = model
        self.retry = retry
        self.deadline_s = deadline_s
        self._sleep = sleep
        self._rng = rng

    @property
    def _endpoint(self) -> httpx.URL:
        """`_url` parsed once (every edit posts to it), again only if it was changed."""
        if self._parsed[0] != self._url:
            self._parsed = (self._url, httpx.URL(self._url))
        return self._parsed[1]

    def fields(self, request: EditRequest) -> dict[str, str]:
        """The multipart text fields, in wire order."""
        opts = request.options
        out = {
            "model": self.model,
            "prompt": request.prompt,
            "n": str(opts.n),
            "quality": opts.quality.value,
            "size": f"{request.size[0]}x{request.size[1]}",
            "output_format": opts.format.value,
        }
        if opts.background is not Background.AUTO:
            out["background"] = opts.background.value
        partials = streamed_previews(request, self.partial_images)
        if partials:
            out["stream"] = "true"
            out["partial_images"] = str(partials)
        return out

    def files(self, request: EditRequest) -> list[tuple[str, tuple[str, bytes, str]]]:
        """The multipart file parts: `image[]` per input, then `mask` when there is one."""
        parts = [
            ("image[]", (image_filename(img, i), img.data, img.mime))
            for i, img in enumerate(request.images)
        ]
        if request.mask is not None:
            parts.append(("mask", ("mask.png", request.mask.data, "image/png")))
        return parts

    def preview(self, request: EditRequest) -> dict[str, object]:
        """The request as it would be sent, images summarised."""
        body: dict[str, object] = {"POST": self._url, **self.fields(request)}
        body["image[]"] = [
            summarize(img, image_filename(img, i)) for i, img in enumerate(request.images)
        ]
        if request.mask is not None:
            body["mask"] = summarize(request.mask, "mask.png")
        return body

    async def resume(
        self, task_id: str, request: EditRequest, *, on_progress: OnProgress | None = None
    ) -> EditResult:
        """OpenAI edits have no task id to come back to: the caller submits again."""
        raise NotImplementedError("OpenAI image edits cannot be resumed; submit again")

    async def edit(
        self,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
        on_task_id: OnTaskId | None = None,
    ) -> EditResult:
        """Run the edit; retries transient failures within the policy and the deadline."""
        deadline = Deadline(self.deadline_s)

        async def emit(stage: Stage, detail: str = "", preview: bytes | None = None) -> None:
            if on_progress is not None:
                await on_progress(Progress(stage, deadline.elapsed(), detail, preview=preview))

        async def on_retry(retry: int, exc: ProviderError, wait: float) -> None:
            log.warning("openai edit retry %d in %.1fs: %s", retry, wait, exc)
            if on_progress is not None:
                detail = f"retry {retry} of {self.retry.max_retries} in {wait:.0f}s"
                await on_progress(
                    Progress(
                        Stage.RETRYING,
                        deadline.elapsed(),
                        detail,
                        retry=retry,
                        max_retries=self.retry.max_retries,
                        wait_s=wait,
                    )
                )

        streaming = streamed_previews(request, self.partial_images) > 0

        async def attempt(timeout: float) -> EditResult:
            response = await self._post(request, timeout=timeout, emit=emit)
            try:
                if not streaming:
                    await response.aread()
                    return await self._result(request, json_body(response), response)
                async with asyncio.timeout(timeout):
                    body = await self._read_stream(response, emit)
                return await self._result(request, body, response)
            except httpx.HTTPError as exc:
                raise transport_error(exc, label=LABEL) from None
            except TimeoutError:
                raise DeadlineExceeded(
                    f"the edit did not finish within {self.deadline_s:g} s"
                ) from None
            finally:
                await response.aclose()

        return await with_retries(
            attempt,
            policy=self.retry,
            deadline=deadline,
            sleep=self._sleep,
            on_retry=on_retry,
            rng=self._rng,
        )

    async def _read_stream(self, response: httpx.Response, emit: Any) -> dict[str, Any]:
        async def on_partial(index: int, data: bytes) -> None:
            await emit(Stage.RUNNING, f"preview {index + 1}", preview=data)

        def on_error(error: dict[str, Any]) -> Exception:
            return self._error_of(error, status=400, response=response)

        return await read_edit_stream(
            response.aiter_lines(),
            on_partial=on_partial,
            on_error=on_error,
            request_id=response.headers.get("x-request-id"),
        )

    async def _post(self, request: EditRequest, *, timeout: float, emit: Any) -> httpx.Response:
        """Send the edit; the response is open (its body unread) when it is a success."""
        total = sum(len(i.data) for i in request.images)
        await emit(Stage.UPLOADING, f"{len(request.images)} image(s), {total // 1024} KiB")
        body, content_type = encode_multipart(self.fields(request), self.files(request))

        async def stream() -> AsyncIterator[bytes]:
            # Streaming our own encoded body tells us when the upload is done and the model runs.
            for start in range(0, len(body), _CHUNK):
                yield body[start : start + _CHUNK]
            await emit(Stage.RUNNING, f"{self.model} is editing")

        headers = {
            "Authorization": self._authorization,
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
        }
        built = self._client.build_request(
            "POST",
            self._endpoint,
            content=stream(),
            headers=headers,
            timeout=httpx.Timeout(timeout),
        )
        try:
            response = await self._client.send(built, stream=True)
            if response.is_success:
                return response
            await response.aread()
        except httpx.HTTPError as exc:
            raise transport_error(exc, label=LABEL) from None
        await response.aclose()
        raise self._error(response)

    def _error(self, response: httpx.Response) -> Exception:
        error = json_body(response).get("error") or {}
        return self._error_of(
            error if isinstance(error, dict) else {},
            status=response.status_code,
            response=response,
        )

    def _error_of(
        self, error: dict[str, Any], *, status: int, response: httpx.Response
    ) -> Exception:
        message = scrub(str(error.get("message") or ""), self._key)
        code = error.get("code")
        if status == 400 and _is_refusal(error):
            return ContentRejected(f"{_REFUSED} (OpenAI said: {message})")
        if response.is_success:  # an error event in a 200 stream: final, like a 400
            return ProviderRejected(
                f"OpenAI stream error: {message or 'the edit failed'}",
                code=str(code) if code else None,
                request_id=response.headers.get("x-request-id"),
            )
        return status_error(
            response, message=message, code=str(code) if code else None, label=LABEL
        )

    async def _result(
        self, request: EditRequest, body: dict[str, Any], response: httpx.Response
    ) -> EditResult:
        """The result from a JSON body (`data` of images) or a completed event (`b64_json`)."""
        request_id = response.headers.get("x-request-id")
        items = body.get("data") or ([body] if body.get("b64_json") else [])
        try:
            datas = tuple(base64.b64decode(item["b64_json"]) for item in items)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderRejected(
                f"OpenAI answered without usable images ({type(exc).__name__})",
                request_id=request_id,
            ) from None
        if not datas:
            raise ProviderRejected("OpenAI answered with no images", request_id=request_id)
        fmt = str(body.get("output_format") or request.options.format.value)
        mime = MIMES.get(fmt, "image/png")
        return EditResult(
            provider=self.name,
            images=tuple(OutputImage(data=d, mime=mime) for d in datas),
            size=await self._size(body.get("size"), datas[0]),
            usage=_usage(body.get("usage")),
            request_id=request_id,
        )

    @staticmethod
    async def _size(reported: object, first: bytes) -> tuple[int, int]:
        if isinstance(reported, str) and "x" in reported:
            w, _, h = reported.partition("x")
            if w.isdigit() and h.isdigit():
                return int(w), int(h)
        return await asyncio.to_thread(_image_size, first)


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details") or {}
    return Usage(
        input_text_tokens=int(details.get("text_tokens", 0)),
        input_image_tokens=int(details.get("image_tokens", 0)),
        output_tokens=int(raw.get("output_tokens", 0)),
    )
