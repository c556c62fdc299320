"""What a result shows besides its pixels: file names from the prompt, and the buttons with
their estimated prices (Use N / Vary N under a batch; Retry, Undo, High quality under one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.core.domain import (
    EditOptions,
    NormalizedImage,
    Place,
    ProviderName,
    Quality,
    format_usd,
)
from bot.core.edits import EditRequest
from bot.core.jobs import JobSpec, JobStatus
from bot.core.ports import Action
from bot.core.pricing import PriceTable, estimate
from bot.jobs.delivery import button_prices, file_stem, named_images, result_buttons

PLACE = Place(platform="slack", workspace="T1", channel="C1", user="U1", thread="1.0")


def job(prompt: str = "sunset glow over the bay", **kw: object) -> JobSpec:
    fields: dict[str, object] = {
        "id": "ab" * 16,
        "place": PLACE,
        "prompt": prompt,
        "options": EditOptions(),
        "size": (1024, 1024),
        "aspect": "1:1",
        "provider": "openai",
        "status": JobStatus.SUCCEEDED,
        "estimate_micros": 50_000,
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
        "version": 3,
    }
    fields.update(kw)
    return JobSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prompt", "stem"),
    [
        ("sunset glow over the bay", "sunset-glow-bay"),
        ("make the sky purple", "sky-purple"),
        ("Café crème, s'il vous plaît!", "cafe-creme-s"),
        ("../../etc/passwd; rm -rf /", "etc-passwd-rm"),
        ("<@U123> 😀", "u123"),
        ("😀 ✨", "edit"),
        ("the a an", "edit"),
        ("x" * 300, "x" * 40),
    ],
)
def test_file_stems_come_from_the_prompt_in_safe_characters(prompt: str, stem: str) -> None:
    assert file_stem(prompt) == stem


def test_files_are_named_by_prompt_version_and_image() -> None:
    one = named_images(job(), [(b"a", "image/png", 8, 8)])
    assert [i.filename for i in one] == ["sunset-glow-bay-v3.png"]
    batch = named_images(job(version=4), [(b"a", "image/jpeg", 8, 8), (b"b", "image/webp", 8, 8)])
    assert [i.filename for i in batch] == ["sunset-glow-bay-v4-1.jpg", "sunset-glow-bay-v4-2.webp"]


def request(options: EditOptions, *sides: tuple[int, int]) -> EditRequest:
    images = tuple(
        NormalizedImage(data=b"", mime="image/png", width=w, height=h, sha256="s") for w, h in sides
    )
    return EditRequest(
        prompt="sunset glow", images=images, options=options, size=(1024, 1024), aspect="1:1"
    )


@pytest.mark.parametrize("provider", list(ProviderName))
def test_each_button_shows_the_estimate_of_the_edit_it_would_queue(provider: ProviderName) -> None:
    table = PriceTable()
    asked = request(EditOptions(quality=Quality.LOW), (1536, 1024), (1024, 1024))
    prices = button_prices(provider=provider, request=asked, output_size=(1024, 1024), table=table)
    high = replace(asked, options=replace(asked.options, quality=Quality.HIGH))
    from_output = request(asked.options, (1024, 1024))  # one input: the output image
    assert prices.retry == estimate(provider=provider, request=asked, table=table).micros
    assert prices.high_quality == estimate(provider=provider, request=high, table=table).micros
    assert prices.vary == estimate(provider=provider, request=from_output, table=table).micros
    assert prices.high_quality > prices.retry

    labels = [b.label for b in result_buttons(job(version=2), prices=prices)]
    assert labels == [
        f"Retry ~{format_usd(prices.retry)}",
        "Undo (free)",
        f"High quality ~{format_usd(prices.high_quality)}",
    ]


def test_undo_only_where_there_is_a_version_before_and_no_high_quality_twice() -> None:
    first = [b.action for b in result_buttons(job(version=1))]
    assert first == [Action.RETRY, Action.HIGH_QUALITY]
    high = job(version=5, options=EditOptions(quality=Quality.HIGH))
    assert [b.action for b in result_buttons(high)] == [Action.RETRY, Action.UNDO]


def test_a_batch_gets_use_and_vary_per_image_carrying_the_image() -> None:
    prices = button_prices(
        provider=ProviderName.OPENAI,
        request=request(EditOptions(n=3), (1024, 1024)),
        output_size=(1024, 1024),
        table=PriceTable(),
    )
    buttons = result_buttons(job(options=EditOptions(n=3)), images=3, prices=prices)
    assert [(b.action, b.index) for b in buttons] == [
        (Action.USE, 1),
        (Action.USE, 2),
        (Action.USE, 3),
        (Action.VARY, 1),
        (Action.VARY, 2),
        (Action.VARY, 3),
    ]
    assert [b.label for b in buttons[:3]] == ["Use 1", "Use 2", "Use 3"]
    assert buttons[4].label == f"Vary 2 ~{format_usd(prices.vary)}"
    assert {b.job_id for b in buttons} == {"ab" * 16}
