"""What a finished job posts, and posting it: the result images with caption and buttons, or
the failure message. Nothing here reads or writes the database (bot.jobs.sweep does).

Trade-off, chosen on purpose: a job is marked delivered BEFORE it is posted (in the
transaction that finishes it, or by the sweep), so two workers, or a worker and the restart
sweep, never both post the same result: delivery is at most once. If posting raises, the mark
is taken back so the sweep tries again later; only a process that dies between the mark and
the post loses that one message (the result stays in the thread's versions, `versions` shows
it). Posting first and marking after would instead post twice after such a crash, and a
duplicate paid-looking result is worse for the people in the channel than one missing message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import Place, Quality
from bot.core.jobs import JobSpec
from bot.core.messages import result_caption
from bot.core.ports import Action, ActionButton, ChatPort, MessageRef, ResultImage
from storage.budget_reports import Standing

log = logging.getLogger(__name__)

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
ALT_TEXT_CHARS = 1000


@dataclass(frozen=True)
class Delivery:
    """What to post for one finished job: its result (images, caption, buttons) or its failure.

    `status_message_id` is the job's status message: a failure replaces its text, a result
    turns it into the done line.
    """

    job_id: str
    place: Place
    status_message_id: str | None
    text: str
    images: tuple[ResultImage, ...] = ()
    alt_text: str = ""
    actions: tuple[ActionButton, ...] = ()
    version: int | None = None

    @property
    def status(self) -> MessageRef | None:
        if self.status_message_id is None:
            return None
        return MessageRef(self.place, self.status_message_id)


def result_buttons(job: JobSpec) -> tuple[ActionButton, ...]:
    """Retry, Undo and (unless it already was) High quality, each carrying the job id."""
    buttons = [
        ActionButton(action=Action.RETRY, job_id=job.id, label="Retry"),
        ActionButton(action=Action.UNDO, job_id=job.id, label="Undo"),
    ]
    if job.options.quality is not Quality.HIGH:
        buttons.append(
            ActionButton(action=Action.HIGH_QUALITY, job_id=job.id, label="High quality")
        )
    return tuple(buttons)


def done_line(version: int | None) -> str:
    """The status message's last words once the result is posted."""
    return f"Done: v{version} is below." if version else "Done."


def named_images(job: JobSpec, outputs: Sequence[tuple[bytes, str, int, int]]) -> list[ResultImage]:
    """(data, mime, width, height) of a job's outputs, in order, as files named by version."""
    named = []
    for position, (data, mime, width, height) in enumerate(outputs):
        ext = _EXTENSIONS.get(mime, "bin")
        version = (job.version or 0) - len(outputs) + position + 1
        filename = f"edit-v{version}.{ext}" if job.version else f"edit-{position}.{ext}"
        named.append(
            ResultImage(data=data, mime=mime, filename=filename, width=width, height=height)
        )
    return named


def result_delivery(
    job: JobSpec, outputs: Sequence[tuple[bytes, str, int, int]], standing: Standing
) -> Delivery:
    """The post of a succeeded job: its images, the caption with cost and budget, buttons."""
    caption = result_caption(
        version=job.version or 0,
        options=job.options,
        cost_micros=job.cost_micros or 0,
        spent_micros=standing.spent_micros,
        cap_micros=standing.cap_micros,
        period=standing.policy.period,
        n_images=len(outputs),
    )
    return Delivery(
        job_id=job.id,
        place=job.place,
        status_message_id=job.status_message_id,
        text=caption,
        images=tuple(named_images(job, outputs)),
        alt_text=job.prompt[:ALT_TEXT_CHARS],
        actions=result_buttons(job),
        version=job.version,
    )


def failure_delivery(job: JobSpec) -> Delivery:
    """The post of a failed job: its message, in place of the status line."""
    return Delivery(
        job_id=job.id,
        place=job.place,
        status_message_id=job.status_message_id,
        text=job.error or "The edit failed; nothing was charged.",
    )


async def post(chat: ChatPort, delivery: Delivery) -> None:
    """Post `delivery`; raises what the platform raised (the caller takes the mark back)."""
    status = delivery.status
    if not delivery.images:
        if status is not None:
            await chat.update_text(status, delivery.text)
        else:
            await chat.post_text(delivery.place, delivery.text)
        return
    await chat.post_images(
        delivery.place,
        images=delivery.images,
        caption=delivery.text,
        alt_text=delivery.alt_text,
        actions=delivery.actions,
    )
    if status is not None:
        try:
            await chat.update_text(status, done_line(delivery.version))
        except Exception:  # the result is posted; a stale status line is cosmetic
            log.warning(
                "job %s: could not update the status message", delivery.job_id, exc_info=True
            )
