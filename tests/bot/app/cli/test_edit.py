"""`editbot edit` run as a subprocess against the provider emulator's real HTTP server."""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.core.domain import Resolution
from bot.core.sizes import size_for
from bot.images.intake import ImageLimits, normalize_image
from tests.kit.emulator import EmulatorServer, ProviderEmulator
from tests.kit.paths import REPO as REPO_ROOT
from tests.kit.settings import make_settings

REPO = REPO_ROOT
RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def emu():
    return ProviderEmulator()


@pytest.fixture
def base_url(emu):
    with EmulatorServer(emu).in_thread() as url:
        yield url


@pytest.fixture
def photo(tmp_path) -> Path:
    """A 320x200 PNG, red on the left half and blue on the right."""
    im = Image.new("RGB", (320, 200), RED)
    im.paste(BLUE, (160, 0, 320, 200))
    path = tmp_path / "photo.png"
    im.save(path)
    return path


def editbot(
    *args: str,
    cwd: Path,
    base_url: str,
    emu: ProviderEmulator,
    keys: bool = True,
    extra_env: dict[str, str] | None = None,
):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "WAVESPEED_", "EDITBOT_"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        OPENAI_BASE_URL=f"{base_url}/v1",
        WAVESPEED_BASE_URL=base_url,
        EDITBOT_PROVIDER="openai",
        EDITBOT_POLL_INTERVAL_S="0.05",
        EDITBOT_PROVIDER_MAX_RETRIES="2",
        EDITBOT_JOB_DEADLINE_S="30",
    )
    if keys:
        env.update(OPENAI_API_KEY=emu.openai_key, WAVESPEED_API_KEY=emu.wavespeed_key)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "edit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def decoded(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def assert_derived_from_photo(im: Image.Image) -> None:
    # The emulator keeps 75% of the input under its tint: red stays red, blue stays blue.
    w, h = im.size
    r, _, b = im.getpixel((w // 8, h // 3))
    assert r > b + 60, im.getpixel((w // 8, h // 3))
    r, _, b = im.getpixel((w - w // 8, h // 3))
    assert b > r + 60, im.getpixel((w - w // 8, h // 3))


def test_openai_edit_writes_the_result_and_prints_cost_and_progress(tmp_path, photo, emu, base_url):
    result = editbot(
        "--prompt", "make it warmer quality=low aspect=16:9", str(photo),
        cwd=tmp_path, base_url=base_url, emu=emu,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # No --out: ./edit-<timestamp>.png in the working directory.
    assert re.fullmatch(r"edit-\d{8}-\d{6}\.png", lines[0]), lines
    out = tmp_path / lines[0]
    im = decoded(out)
    assert im.size == size_for("16:9", Resolution.R1K)
    assert_derived_from_photo(im)
    assert re.search(r"^cost: \$0\.\d{3} \(.*output tokens", result.stdout, re.M)
    assert re.search(r"^estimate was: \$", result.stdout, re.M)
    assert re.search(r"running.*\.\.\. \d+s", result.stderr), result.stderr
    (sent,) = emu.routes("openai_edit")
    assert sent.authorized
    assert sent.fields["quality"] == "low" and sent.fields["prompt"] == "make it warmer"


def test_wavespeed_edit_writes_numbered_files(tmp_path, photo, emu, base_url):
    result = editbot(
        "--prompt", "make it warmer quality=low aspect=1:1 n=2", str(photo),
        "--provider", "wavespeed", "--out", str(tmp_path / "result.png"),
        cwd=tmp_path, base_url=base_url, emu=emu,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    paths = [tmp_path / "result-1.png", tmp_path / "result-2.png"]
    assert result.stdout.splitlines()[:2] == [str(p) for p in paths]
    images = [decoded(p) for p in paths]
    for im in images:
        assert im.size == (1024, 1024)
        assert_derived_from_photo(im)
    assert images[0].tobytes() != images[1].tobytes()  # two samples, not one file twice
    assert "cost: $0.060 (2 x low 1k at $0.030)" in result.stdout
    assert re.search(r"running.*\.\.\. \d+s", result.stderr), result.stderr
    assert len(emu.routes("submit")) == 2


@pytest.mark.parametrize(
    ("provider", "wire_line"),
    [("openai", '"size": "1536x1024"'), ("wavespeed", '"aspect_ratio": "3:2"')],
)
def test_dry_run_sends_nothing_and_shows_inputs_request_and_estimate(
    tmp_path, photo, emu, base_url, provider, wire_line
):
    result = editbot(
        "--prompt", "make it warmer quality=high n=3", str(photo), "--dry-run",
        "--provider", provider,
        cwd=tmp_path, base_url=base_url, emu=emu, keys=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert emu.requests == []
    out = result.stdout
    # The normalized input as the core makes it: name, size, mime, bytes, sha256 prefix.
    limits = ImageLimits.from_settings(make_settings())
    norm = asyncio.run(normalize_image(photo.read_bytes(), name=photo.name, limits=limits))
    expected = (
        f"1. {norm.name}  {norm.width}x{norm.height}  {norm.mime}  {len(norm.data):,} bytes  "
        f"sha256 {norm.sha256[:12]}"
    )
    assert expected in out, out
    # The request as it would go on the wire (3:2 is the nearest ratio to 320x200).
    assert wire_line in out and '"make it warmer"' in out, out
    assert re.search(r"^estimate: \$\d+\.\d+ \(3 x ", out, re.M), out
    assert not re.search(r"[A-Za-z0-9+/=]{100,}", out), "image bytes leaked into the preview"
    assert list(tmp_path.glob("edit-*")) == []


def one_line_error(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    error_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("editbot edit: ")]
    assert len(error_lines) == 1, result.stderr
    return error_lines[0]


def test_a_non_image_input_exits_2_with_one_line(tmp_path, emu, base_url):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: eggs, milk, more eggs\n" * 3)
    result = editbot("--prompt", "x", str(notes), cwd=tmp_path, base_url=base_url, emu=emu)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "notes.txt" in one_line_error(result)
    assert emu.requests == []


def test_a_missing_file_exits_2(tmp_path, emu, base_url):
    result = editbot("--prompt", "x", "nope.png", cwd=tmp_path, base_url=base_url, emu=emu)
    assert result.returncode == 2
    assert "nope.png" in one_line_error(result)


def test_an_out_folder_that_does_not_exist_exits_2_before_sending(tmp_path, photo, emu, base_url):
    result = editbot(
        "--prompt", "x", str(photo), "--out", str(tmp_path / "no" / "such" / "o.png"),
        cwd=tmp_path, base_url=base_url, emu=emu,
    )  # fmt: skip
    assert result.returncode == 2
    assert "does not exist" in one_line_error(result)
    assert emu.requests == []


def test_an_existing_out_file_is_kept_unless_force(tmp_path, photo, emu, base_url):
    out = tmp_path / "keep.png"
    out.write_bytes(b"the operator's own file")
    args = ("--prompt", "x quality=low", str(photo), "--out", str(out))
    result = editbot(*args, cwd=tmp_path, base_url=base_url, emu=emu)
    assert result.returncode == 2
    expected = f"editbot edit: --out {out} exists already: add --force to overwrite it."
    assert one_line_error(result) == expected
    assert out.read_bytes() == b"the operator's own file" and emu.requests == []

    result = editbot(*args, "--force", cwd=tmp_path, base_url=base_url, emu=emu)
    assert result.returncode == 0, result.stderr
    assert decoded(out).size != (0, 0) and len(emu.routes("openai_edit")) == 1


@pytest.mark.parametrize("provider", ["openai", "wavespeed"])
def test_a_refusal_exits_2(tmp_path, photo, emu, base_url, provider):
    result = editbot(
        "--prompt", "something forbidden quality=low", str(photo), "--provider", provider,
        cwd=tmp_path, base_url=base_url, emu=emu,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "safety" in one_line_error(result).lower()
    assert result.stdout == ""


def test_a_provider_failing_forever_exits_1(tmp_path, photo, emu, base_url):
    emu.fail_next("500", times=1_000)
    result = editbot(
        "--prompt", "x quality=low", str(photo), cwd=tmp_path, base_url=base_url, emu=emu
    )
    assert result.returncode == 1, result.stderr
    assert "provider failed" in one_line_error(result)
    assert len(emu.routes("openai_edit")) == 3  # the first try and two retries
    assert result.stdout == ""


def test_a_missing_api_key_exits_2_naming_the_variable(tmp_path, photo, emu, base_url):
    # A configuration mistake, like a user's: exit 2 (bot.app.cli.spine), as in every command.
    result = editbot(
        "--prompt", "x", str(photo), cwd=tmp_path, base_url=base_url, emu=emu, keys=False
    )
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in one_line_error(result)
    assert emu.requests == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("EDITBOT_PROVIDER", "bogus"), ("EDITBOT_PRICES", '{"openai.outptu_per_mtok": 1}')],
)
def test_bad_configuration_exits_2_naming_the_setting(
    tmp_path, photo, emu, base_url, variable, value
):
    result = editbot(
        "--prompt", "x", str(photo), "--dry-run",
        cwd=tmp_path, base_url=base_url, emu=emu, extra_env={variable: value},
    )  # fmt: skip
    assert result.returncode == 2
    line = one_line_error(result)
    assert variable in line and "configuration" in line


def test_mode_each_runs_one_edit_per_image_into_an_out_directory(tmp_path, photo, emu, base_url):
    flipped = tmp_path / "flipped.png"
    with Image.open(photo) as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    result = editbot(
        "--prompt", "add snow mode=each quality=low aspect=1:1", str(photo), str(flipped),
        "--out", str(out_dir), cwd=tmp_path, base_url=base_url, emu=emu,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()[:2]]
    assert [p.parent for p in paths] == [out_dir, out_dir]
    assert [re.fullmatch(r"edit-\d{8}-\d{6}-(\d)\.png", p.name)[1] for p in paths] == ["1", "2"]
    assert_derived_from_photo(decoded(paths[0]))
    # The second edit started from the mirrored input: blue on the left now.
    second = decoded(paths[1])
    r, _, b = second.getpixel((second.width // 8, second.height // 3))
    assert b > r + 60
    assert len(emu.routes("openai_edit")) == 2
    assert "[1/2]" in result.stderr and "[2/2]" in result.stderr
