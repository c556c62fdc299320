import pytest

from bot.core.domain import ASPECTS, EditOptions, Resolution, format_usd
from bot.core.errors import OptionError
from bot.core.sizes import check_size, nearest_aspect, output_size, size_for, size_problem


@pytest.mark.parametrize("resolution", list(Resolution))
@pytest.mark.parametrize("aspect", ASPECTS)
def test_every_aspect_and_resolution_gives_a_size_gpt_image_2_accepts(aspect, resolution):
    w, h = size_for(aspect, resolution)
    assert size_problem(w, h) is None
    num, den = (int(x) for x in aspect.split(":"))
    # Rounding to multiples of 16 keeps the ratio within 3%.
    assert abs((w / h) / (num / den) - 1) < 0.03


def test_1k_gives_openais_standard_sizes():
    assert size_for("1:1", Resolution.R1K) == (1024, 1024)
    assert size_for("3:2", Resolution.R1K) == (1536, 1024)
    assert size_for("2:3", Resolution.R1K) == (1024, 1536)


def test_4k_stays_within_the_safe_long_side_and_pixel_total():
    w, h = size_for("16:9", Resolution.R4K)
    assert (w, h) == (3824, 2144)


@pytest.mark.parametrize(
    ("w", "h", "needle"),
    [
        (1000, 1000, "multiples of 16"),
        (3088, 1024, "3x"),
        (4000, 2000, "long side"),
        (512, 512, "between"),
    ],
)
def test_bad_sizes_say_why(w, h, needle):
    with pytest.raises(OptionError, match=needle):
        check_size(w, h)


def test_nearest_aspect_follows_the_input():
    assert nearest_aspect(4000, 3000) == "4:3"
    assert nearest_aspect(1080, 1920) == "9:16"
    assert nearest_aspect(1000, 1010) == "1:1"


def test_output_size_uses_the_first_input_when_aspect_is_auto():
    assert output_size(EditOptions(), (3000, 2000)) == (1536, 1024)
    assert output_size(EditOptions(aspect="1:1"), (3000, 2000)) == (1024, 1024)
    assert output_size(EditOptions(size=(2048, 1024)), (3000, 2000)) == (2048, 1024)


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "$0.00"), (7_024, "$0.007"), (1_500_000, "$1.50"), (999_999, "$1.00"), (30_000, "$0.030")],
)
def test_format_usd(micros, text):
    assert format_usd(micros) == text
