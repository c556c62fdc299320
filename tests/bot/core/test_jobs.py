"""bot.core.jobs and storage.job_rows: a job's request and place survive the row they live in."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.domain import (
    ASPECTS,
    Background,
    EditOptions,
    Mode,
    OutputFormat,
    Place,
    Quality,
    Resolution,
)
from bot.core.edits import EditRequest
from bot.core.jobs import (
    JobSpec,
    JobStatus,
    decode_request,
    encode_request,
    options_from_dict,
    options_to_dict,
)
from storage.job_rows import row_of, spec_of_row

options_strategy = st.builds(
    EditOptions,
    quality=st.sampled_from(list(Quality)),
    aspect=st.one_of(st.none(), st.sampled_from(ASPECTS)),
    resolution=st.sampled_from(list(Resolution)),
    size=st.one_of(st.none(), st.just((1024, 1536))),
    n=st.integers(1, 10),
    format=st.sampled_from(list(OutputFormat)),
    background=st.sampled_from(list(Background)),
    mask=st.one_of(st.none(), st.integers(1, 4)),
    mode=st.sampled_from(list(Mode)),
)


@given(options_strategy)
def test_options_survive_the_round_trip(options):
    assert options_from_dict(options_to_dict(options)) == options


@given(options_strategy)
def test_a_request_survives_its_json(options):
    request = EditRequest(prompt="p", images=(), options=options, size=(1024, 1280), aspect="4:5")
    assert decode_request(encode_request(request)) == (options, (1024, 1280), "4:5")


@pytest.mark.parametrize("thread", [None, "1700000000.000100"])
def test_a_job_row_gives_back_its_spec(thread):
    options = EditOptions(quality=Quality.HIGH, aspect="4:5", n=2)
    place = Place(platform="slack", workspace="T1", channel="C1", user="U1", thread=thread)
    spec = JobSpec(
        id="a" * 32,
        place=place,
        prompt="p",
        options=options,
        size=(1024, 1280),
        aspect="4:5",
        provider="openai",
        status=JobStatus.QUEUED,
        estimate_micros=42_000,
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        edit_thread_id=7,
        base_version=2,
        batch_id="b" * 32,
        parent_job_id="c" * 32,
        status_message_id="m1",
    )
    row = row_of(spec)
    assert (row.scope, row.platform, row.thread, row.user) == ("slack:T1:C1", "slack", thread, "U1")
    assert spec_of_row(row) == spec
