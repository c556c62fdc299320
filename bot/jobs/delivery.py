"""What a finished job posts, and posting it: the result images with caption and buttons, or
the failure message. Nothing here reads or writes the database (bot.jobs.sweep does).

A job is marked delivered BEFORE it is posted (in the transaction that finishes it, or by the
sweep), so two workers, or a worker and the restart sweep, never both post the same result.
The mark is a lease: it names the process posting (its heartbeat owner), and a second write
confirms the post once the platform took it (storage.deliveries). If posting raises, the
mark is taken back so the sweep tries again later. A process that dies between the mark and
the confirm (SIGKILL) leaves a mark its heartbeat no longer backs: a live process takes it
back, and the sweep asks the platform whether the result is in the thread already
(ChatPort.find_posted) before posting it, so the result is posted once, neither lost nor
posted twice.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.domain import NormalizedImage, Place, ProviderName, Quality, format_usd
from bot.core.edits import EditRequest
from bot.core.jobs import JobSpec
from bot.core.messages import result_caption
from bot.core.ports import Action, ActionButton, ChatPort, MessageRef, ResultImage
from bot.core.pricing import PriceTable, estimate
from bot.core.regions import region_phrase
from storage.budget_reports import Standing

log = logging.getLogger(__name__)

BATCH_DONE = "Done: the results are below."
"""A batch's shared status message once one of its results is posted (the last one's stays)."""

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
ALT_TEXT_CHARS = 1000
DONE = "Done: the result is in the thread"


@dataclass(frozen=True)
class Delivery:
    """What to post for one finished job: its result (images, caption, buttons) or its failure.

    `status_message_id` is the job's status message: the result (or the failure) is posted
    as a new message that notifies the requester, and the status message is removed, unless
    `shared_status`: the jobs of a batch (mode=each) share one status message, which then
    stays and says the results are below.
    """

    job_id: str
    place: Place
    status_message_id: str | None
    text: str
    images: tuple[ResultImage, ...] = ()
    alt_text: str = ""
    actions: tuple[ActionButton, ...] = ()
    version: int | None = None
    shared_status: bool = False

    @property
    def status(self) -> MessageRef | None:
        if self.status_message_id is None:
            return None
        return MessageRef(self.place, self.status_message_id)


@dataclass(frozen=True)
class ButtonPrices:
    """What the buttons under a result would cost, estimated (micro-dollars)."""

    retry: int
    """The same request again."""
    high_quality: int
    """The same request at quality=high."""
    vary: int
    """The same prompt and options from one of the outputs."""


def button_prices(
    *, provider: ProviderName, request: EditRequest, output_size: tuple[int, int], table: PriceTable
) -> ButtonPrices:
    """The estimates the result's buttons show, priced as the edits they would queue."""
    high = replace(request, options=replace(request.options, quality=Quality.HIGH))
    # Vary starts from one output: only its size matters to the estimate.
    output = NormalizedImage(
        data=b"", mime="image/png", width=output_size[0], height=output_size[1], sha256=""
    )
    vary = replace(request, images=(output,), mask=None)
    return ButtonPrices(
        retry=estimate(provider=provider, request=request, table=table).micros,
        high_quality=estimate(provider=provider, request=high, table=table).micros,
        vary=estimate(provider=provider, request=vary, table=table).micros,
    )


def _priced(label: str, micros: int | None) -> str:
    return f"{label} ~{format_usd(micros)}" if micros is not None else label


def result_buttons(
    job: JobSpec, *, images: int = 1, prices: ButtonPrices | None = None
) -> tuple[ActionButton, ...]:
    """The buttons under a result, each carrying the job id and its estimated price.

    A batch (several images) gets Use N (free: image N is what the version stands for) and
    Vary N (the same prompt again from image N) per image. One image gets Retry, Undo where
    there is a version before it, and High quality unless it already was.
    """
    if images > 1:
        vary = prices.vary if prices else None
        uses = [
            ActionButton(action=Action.USE, job_id=job.id, label=f"Use {i}", index=i)
            for i in range(1, images + 1)
        ]
        varies = [
            ActionButton(
                action=Action.VARY, job_id=job.id, label=_priced(f"Vary {i}", vary), index=i
            )
            for i in range(1, images + 1)
        ]
        return (*uses, *varies)
    retry = prices.retry if prices else None
    buttons = [ActionButton(action=Action.RETRY, job_id=job.id, label=_priced("Retry", retry))]
    if job.version is not None and job.version > 1:
        buttons.append(ActionButton(action=Action.UNDO, job_id=job.id, label="Undo (free)"))
    if job.options.quality is not Quality.HIGH:
        high = prices.high_quality if prices else None
        buttons.append(
            ActionButton(
                action=Action.HIGH_QUALITY, job_id=job.id, label=_priced("High quality", high)
            )
        )
    return tuple(buttons)


_SLUG_WORDS = 3
_SLUG_CHARS = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_FILLER = frozenset(
    "a an the of to in into on onto over at by for from with and or it its this that make "
    "turn change add "
    "please".split()
)


def file_stem(prompt: str) -> str:
    """A file name from the first words of a prompt that say something (`make the sky
    purple` -> `sky-purple`), safe characters only (ASCII letters, digits and `-`); `edit`
    when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    words = [w for w in _NOT_SLUG.split(ascii_text.lower()) if w and w not in _FILLER]
    words = words[:_SLUG_WORDS]
    stem = "-".join(words)[:_SLUG_CHARS].strip("-")
    return stem or "edit"


def named_images(job: JobSpec, outputs: Sequence[tuple[bytes, str, int, int]]) -> list[ResultImage]:
    """(data, mime, width, height) of a job's outputs, in order, as files named from the
    prompt and the version: `sunset-glow-v3.png`, a batch's `sunset-glow-v3-2.png`."""
    stem = file_stem(job.prompt)
    if job.version:
        stem += f"-v{job.version}"
    named = []
    for position, (data, mime, width, height) in enumerate(outputs, start=1):
        ext = _EXTENSIONS.get(mime, "bin")
        filename = f"{stem}-{position}.{ext}" if len(outputs) > 1 else f"{stem}.{ext}"
        named.append(
            ResultImage(data=data, mime=mime, filename=filename, width=width, height=height)
        )
    return named


def result_delivery(
    job: JobSpec,
    outputs: Sequence[tuple[bytes, str, int, int]],
    standing: Standing,
    *,
    prices: ButtonPrices | None = None,
) -> Delivery:
    """The post of a succeeded job: its images, the caption with cost and budget, buttons."""
    size = (outputs[0][2], outputs[0][3]) if outputs else job.size
    caption = result_caption(
        version=job.version or 0,
        prompt=job.prompt,
        requester=f"<@{job.place.user}>" if job.place.user else None,
        size=size,
        quality=job.options.quality.value,
        cost_micros=job.cost_micros or 0,
        spent_micros=standing.spent_micros,
        cap_micros=standing.cap_micros,
        period=standing.policy.period,
        n_images=len(outputs),
        region=region_phrase(job.options.region) if job.options.region else None,
    )
    return Delivery(
        job_id=job.id,
        place=job.place,
        status_message_id=job.status_message_id,
        text=caption,
        images=tuple(named_images(job, outputs)),
        alt_text=job.prompt[:ALT_TEXT_CHARS],
        actions=result_buttons(job, images=len(outputs), prices=prices),
        version=job.version,
        shared_status=job.batch_id is not None,
    )


def failure_delivery(job: JobSpec) -> Delivery:
    """The post of a failed job: its message and a Retry button, replacing the status line."""
    return Delivery(
        job_id=job.id,
        place=job.place,
        status_message_id=job.status_message_id,
        text=job.error or "The edit failed; nothing was charged.",
        actions=(ActionButton(action=Action.RETRY, job_id=job.id, label="Retry"),),
        version=job.version,
        shared_status=job.batch_id is not None,
    )


async def post(chat: ChatPort, delivery: Delivery) -> None:
    """Post `delivery` as the edit's one message, notifying the requester, and remove the
    status message it replaces; raises what the platform raised (the caller takes the mark
    back)."""
    status = delivery.status
    await chat.post_result(
        delivery.place,
        text=delivery.text,
        images=delivery.images,
        alt_text=delivery.alt_text,
        actions=delivery.actions,
        notify=delivery.place.user or None,
        replaces=None if delivery.shared_status else status,
    )
    await _tell_outcome(chat, delivery)
    if delivery.shared_status and status is not None:
        try:
            await chat.update_text(status, BATCH_DONE)
        except Exception:  # the result is posted; a stale status line is cosmetic
            log.warning("job %s: could not update the batch's status", delivery.job_id)


async def _tell_outcome(chat: ChatPort, delivery: Delivery) -> None:
    """The request's own reply (where it has one) says how it ended; cosmetic if it fails."""
    if delivery.images:
        outcome = f"Done: v{delivery.version} in the thread" if delivery.version else DONE
    else:
        outcome = "Failed: " + (delivery.text.splitlines() or [""])[0]
    try:
        await chat.tell_outcome(delivery.place, outcome)
    except Exception:
        log.warning("job %s: could not update the request's reply", delivery.job_id, exc_info=True)
