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
from bot.jobs.codec import job_options, options_from_dict, options_to_dict, place_of, request_json
from storage.models import Job

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


@pytest.mark.parametrize("thread", [None, "1700000000.000100"])
def test_a_job_row_gives_back_its_place_and_options(thread):
    options = EditOptions(quality=Quality.HIGH, aspect="4:5", n=2)
    request = EditRequest(prompt="p", images=(), options=options, size=(1024, 1280), aspect="4:5")
    place = Place(platform="slack", workspace="T1", channel="C1", user="U1", thread=thread)
    job = Job(
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        thread=place.thread,
        user=place.user,
        scope=place.scope,
        prompt="p",
        options_json=request_json(request),
        provider="openai",
    )
    assert place_of(job) == place
    assert job_options(job) == options
