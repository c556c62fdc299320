"""bot.core.messages: the numbers and key words people need are in each text, nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import messages as m
from bot.core.domain import format_usd
from bot.core.jobs import short_ref

MICROS_RE = re.compile(r"\d{6,}")
"""Six or more digits in a row: a raw micro-dollar amount (format_usd never prints one)."""


def assert_plain(text: str) -> None:
    assert text and len(text) <= m.MAX_CHARS <= 3000
    assert not MICROS_RE.search(text), text
    assert "*" not in text and "<" not in text  # no platform-specific markup of our own


# --- status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [(0, "yours is next"), (1, "1 edit ahead"), (7, "7 edits ahead")],
)
def test_queued_says_how_many_are_ahead(ahead: int, expected: str) -> None:
    text = m.status_queued(ahead)
    assert expected in text and text.startswith("Queued")


@pytest.mark.parametrize(
    ("elapsed", "shown"), [(0.4, "0s"), (12.7, "12s"), (65, "1m 05s"), (3720, "1h 02m")]
)
def test_running_shows_stage_and_elapsed_time(elapsed: float, shown: str) -> None:
    assert m.status_running(elapsed, "editing") == f"Editing... {shown}"
    assert m.status_running(elapsed, "uploading the result").startswith("Uploading the result")


def test_retrying_says_attempt_and_wait() -> None:
    text = m.status_retrying(2, max_attempts=5, wait_s=4.2)
    assert "attempt 2 of 5" in text and "in 4s" in text and "cost nothing" in text
    assert " in " not in m.status_retrying(3, max_attempts=5).split("(")[0]


def test_confirm_states_estimate_threshold_charge_and_expiry() -> None:
    text = m.status_confirm(840_000, 500_000)
    assert "$0.84" in text and "$0.50" in text
    assert "Nothing is charged until you confirm" in text and "10 minutes" in text
    assert "Confirm" in text and "Cancel" in text
    assert_plain(text)


def test_expired_and_cancelled_say_nothing_was_charged() -> None:
    assert "10 minutes" in m.confirm_expired() and "Nothing was charged" in m.confirm_expired()
    assert "3 minutes" in m.confirm_expired(minutes=3)
    assert "Nothing was charged" in m.cancelled()


# --- results and failures ------------------------------------------------------------------


def test_result_caption_is_the_sentence_people_read_at_a_glance() -> None:
    text = m.result_caption(
        version=3,
        prompt="sunset glow over the bay",
        requester="<@U1>",
        size=(1808, 1024),
        quality="high",
        cost_micros=150_000,
        spent_micros=15_150_000,
        cap_micros=20_000_000,
        period="month",
    )
    assert text == (
        f'v3 · "sunset glow over the bay" for <@U1> · 1808x1024 high · {format_usd(150_000)} · '
        "$4.85 left this month"
    )


def test_result_caption_of_a_batch_a_region_no_cap_and_a_note() -> None:
    long_prompt = "make the sky a deep purple with thin orange clouds " * 4
    text = m.result_caption(
        version=12,
        prompt=long_prompt,
        requester=None,
        size=(1024, 1536),
        quality="medium",
        cost_micros=44_000,
        spent_micros=1_500_000,
        cap_micros=None,
        period="week",
        n_images=4,
        region="the top half",
        note="The mask was\n  resized to match the image.",
    )
    first, second = text.split("\n")
    assert first.startswith('v12 · "make the sky a deep purple')
    assert '..." · 4 images to choose from · 1024x1536 medium' in first  # the prompt is cut
    assert "only the top half edited · $0.044 · $1.50 spent this week (no cap)" in first
    assert second == "The mask was resized to match the image."
    assert_plain(text)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("provider_down", "not answering right now"),
        ("timeout", "took too long"),
        ("internal", "went wrong on editbot's side"),
        ("something new", "went wrong on editbot's side"),
    ],
)
def test_failures_are_plain_and_carry_a_short_reference(kind: str, words: str) -> None:
    text = m.failure_for_user(kind, "3f9a2c1bd0e4a5b6c7d8e9fa0b1c2d3e")
    assert words in text and "nothing was charged" in text
    assert text.endswith("(reference 3f9a-2c1b)")
    assert "3f9a2c1bd0e4a5b6c7d8e9fa0b1c2d3e" not in text  # never the 32-character job id
    assert "Traceback" not in text and "Error" not in text
    assert_plain(text)


def test_the_provider_down_text_is_the_one_promised() -> None:
    assert m.failure_for_user(m.FailureKind.PROVIDER_DOWN, "3f9a2c1bd0e4a5b6c7d8e9fa0b1c2d3e") == (
        "The image service is not answering right now; nothing was charged. "
        "Try again in a few minutes. (reference 3f9a-2c1b)"
    )


def test_rejected_shows_the_providers_message_trimmed() -> None:
    text = m.failure_for_user("rejected", "j1", detail="Invalid mask: size differs.\n")
    assert "refused this edit: Invalid mask: size differs. Nothing was charged." in text
    long = m.failure_for_user("rejected", "j1", detail="word " * 2000)
    assert len(long) < 500 and long.endswith(f"(reference {short_ref('j1')})")
    assert "without saying why" in m.failure_for_user("rejected", "j1", detail=None)


# --- versions ------------------------------------------------------------------------------


def test_version_texts() -> None:
    assert "v2 is the current version" in m.undo_done(2)
    assert "Nothing to undo" in m.undo_nothing()
    assert "no versions" in m.no_versions_yet()
    assert m.version_missing(7, 3) == "There is no v7 in this thread; it has v1 to v3."
    assert "only v1" in m.version_missing(4, 1)
    assert m.version_missing(2, 0) == m.no_versions_yet()


# --- budgets -------------------------------------------------------------------------------


def _refused(**changes: Any) -> str:
    """A refusal of a $0.840 edit with $4.35 spent and $15.00 held of $20.00."""
    numbers: dict[str, Any] = {
        "spent_micros": 4_350_000,
        "reserved_micros": 15_000_000,
        "cap_micros": 20_000_000,
        "estimate_micros": 840_000,
        "period": "month",
        "who_can_raise": "a workspace admin",
        "per_user": False,
    }
    return m.budget_refused(**{**numbers, **changes})


def test_refusal_says_spent_cap_estimate_no_charge_and_who_can_raise() -> None:
    text = _refused()
    for needle in ("$4.35", "$20.00", "$0.840", "$0.650 left this month", "$15.00 is held"):
        assert needle in text
    assert "Nothing was charged" in text
    assert text.endswith("To raise the cap, ask a workspace admin.")
    assert "/edit-budget set" not in text  # the admin command is the admin's business
    assert "this channel's budget" in text and "fit" not in text  # no cheaper edit was given
    assert_plain(text)
    low = [("quality=low", 44_000)]
    cheaper = _refused(who_can_raise="Ada or a workspace admin", cheaper=low)
    assert "It would fit with `quality=low` (up to $0.044): send it again with that" in cheaper
    assert "button" not in cheaper  # none came with it
    assert cheaper.endswith("ask Ada or a workspace admin.")
    pressable = _refused(cheaper=low, buttons=True)
    assert "press its button to run it, or send it again with that" in pressable


def test_per_user_refusal_names_the_persons_own_cap() -> None:
    text = m.budget_refused(
        spent_micros=5_000_000,
        reserved_micros=0,
        cap_micros=5_000_000,
        estimate_micros=210_000,
        period="day",
        who_can_raise="a workspace admin",
        per_user=True,
    )
    assert "your own budget" in text and "$0.00 left today" in text
    assert "held" not in text and "fit" not in text  # nothing is left to fit into


def test_warning_states_spent_cap_and_threshold() -> None:
    text = m.budget_warning(spent_micros=16_200_000, cap_micros=20_000_000, percent=80)
    assert "$16.20" in text and "$20.00" in text and "80%" in text and "this month" in text
    assert "today" in m.budget_warning(spent_micros=1, cap_micros=2, percent=80, period="day")
    # What running edits hold counts toward the threshold, so the numbers say it.
    held = m.budget_warning(spent_micros=10_000, reserved=41_000, cap_micros=50_000, percent=80)
    assert "used $0.051, $0.041 of it held for edits running, of its $0.050" in held


def test_budget_show_lists_numbers_and_top_spenders_in_order() -> None:
    top = [
        (f"user{c}", micros)
        for c, micros in zip("ABCDEFGHIJKL", range(12_000_000, 0, -1_000_000), strict=True)
    ]
    text = m.budget_show(
        spent_micros=4_350_000,
        reserved_micros=300_000,
        cap_micros=20_000_000,
        period="month",
        per_user_cap_micros=5_000_000,
        top_users=top,
        source="workspace",
    )
    lines = text.split("\n")
    assert lines[0] == "Channel budget: $20.00 a month, the workspace default."
    assert lines[1] == "Spent this month: $4.35 (21%); $15.35 left."
    assert "Held for edits in progress: $0.300." in lines
    assert "Each person may spend up to $5.00 a month." in lines
    ranked = [line for line in lines if re.match(r"\d+\. ", line)]
    assert ranked[0] == "1. userA - $12.00" and ranked[-1] == "10. userJ - $3.00"
    assert len(ranked) == m.TOP_USERS_SHOWN and lines[-1] == "...and 2 more."
    assert_plain(text)


def test_budget_show_without_cap_or_spenders() -> None:
    text = m.budget_show(spent_micros=0, reserved_micros=0, cap_micros=None, period="none")
    assert text == "Channel spend in total: $0.00 (no cap).\nNobody has spent anything in total."


def test_budget_set_done() -> None:
    text = m.budget_set_done(cap_micros=50_000_000, period="week", per_user_cap_micros=10_000_000)
    assert text.startswith("Budget set: $50.00 a week for this channel")
    assert "at most $10.00 a week per person" in text and "this week still counts" in text
    assert "still counts" not in m.budget_set_done(cap_micros=1_000_000, period="none")
    assert "no spending cap" in m.budget_set_done(cap_micros=None, period="month")


def test_not_admin_names_who_can() -> None:
    text = m.not_admin("Ada or a workspace admin")
    assert text.startswith("Only an admin can change the budget: Ada or a workspace admin.")
    assert "/edit-budget show" in text and "/edit-budget set" not in text
    assert "usage report" in m.not_admin("Ada", "usage")


def test_money_reads_one_way_everywhere() -> None:
    # Whole cents from a dollar up, three decimals below; never four, never raw micros.
    assert [format_usd(x) for x in (4_850_000, 1_000_000, 999_500, 44_000, 640_000)] == [
        "$4.85",
        "$1.00",
        "$1.00",
        "$0.044",
        "$0.640",
    ]
    assert format_usd(0) == "$0.00" and format_usd(1) == "$0.001"  # a charge never reads as $0
    assert format_usd(-51_200) == "-$0.051"


# --- every text, any numbers ---------------------------------------------------------------

# Up to $99,999.99: five digits of dollars, so six in a row can only be raw micros.
micros = st.integers(min_value=0, max_value=99_999_990_000)
words = st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=5000)
periods = st.sampled_from(["day", "week", "month", "none", "fortnight"])


def all_texts(data: st.DataObject) -> list[str]:
    d = data.draw
    top = d(st.lists(st.tuples(words, micros), max_size=40))
    return [
        m.status_queued(d(st.integers(-5, 99_999))),
        m.status_running(d(st.floats(-10, 10**7)), d(words)),
        m.status_retrying(d(st.integers(1, 99)), max_attempts=99, wait_s=d(st.floats(0, 10**5))),
        m.status_confirm(d(micros), d(micros)),
        m.result_caption(
            version=d(st.integers(1, 99_999)),
            prompt=d(words),
            requester=None,
            size=(d(st.integers(16, 3840)), d(st.integers(16, 3840))),
            quality="medium",
            cost_micros=d(micros),
            spent_micros=d(micros),
            cap_micros=d(st.none() | micros),
            period=d(periods),
            n_images=d(st.integers(1, 10)),
            note=d(st.none() | words),
        ),
        m.failure_for_user(d(st.sampled_from(list(m.FailureKind))), d(words), detail=d(words)),
        m.budget_refused(
            spent_micros=d(micros),
            reserved_micros=d(micros),
            cap_micros=d(micros),
            estimate_micros=d(micros),
            period=d(periods),
            who_can_raise=d(words),
            per_user=d(st.booleans()),
        ),
        m.budget_warning(spent_micros=d(micros), cap_micros=d(micros), percent=80),
        m.budget_show(
            spent_micros=d(micros),
            reserved_micros=d(micros),
            cap_micros=d(st.none() | micros),
            period=d(periods),
            per_user_cap_micros=d(st.none() | micros),
            top_users=top,
            source=d(st.sampled_from(["channel", "workspace", "default", "?"])),
        ),
        m.budget_set_done(
            cap_micros=d(st.none() | micros),
            period=d(periods),
            per_user_cap_micros=d(st.none() | micros),
        ),
    ]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_no_text_is_too_long_or_leaks_raw_micros(data: st.DataObject) -> None:
    for text in all_texts(data):
        assert 0 < len(text) <= m.MAX_CHARS
        # Amounts up to $1,000,000 as dollars; digits from the drawn words are letters-only.
        assert not MICROS_RE.search(text), text


@given(micros)
def test_amounts_appear_as_format_usd_says(amount: int) -> None:
    assert format_usd(amount) in m.status_confirm(amount, 500_000)
    caption = m.result_caption(
        version=1,
        prompt="p",
        requester=None,
        size=(1024, 1024),
        quality="low",
        cost_micros=amount,
        spent_micros=0,
        cap_micros=None,
        period="day",
    )
    assert f"high · {format_usd(amount)} ·" in caption.replace("low", "high")
