"""The house rules as tests: the layers' arrows, small files and functions, no dead errors.

docs/architecture.md draws the layers; pyproject.toml's [tool.importlinter] contracts state
them; these tests fail the suite when the code stops following them.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.core import errors
from tests.kit.paths import REPO

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
CODE = ("bot", "adapters", "storage", "tests", "bench")
GENERATED = ("storage/migrations/versions",)


def _python_files() -> list[Path]:
    return [
        path
        for root in CODE
        for path in sorted((REPO / root).rglob("*.py"))
        if not any(part in str(path.relative_to(REPO)) for part in GENERATED)
    ]


def test_the_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_no_file_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in _python_files()
        if (n := path.read_text().count("\n")) > MAX_FILE_LINES
    }
    assert long == {}, "split these along a seam"


def test_no_function_is_over_60_lines() -> None:
    long: dict[str, int] = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = length
    assert long == {}, "name the pieces"


def test_every_error_editbot_defines_is_raised_somewhere() -> None:
    source = "\n".join(
        path.read_text()
        for root in ("bot", "adapters", "storage")
        for path in (REPO / root).rglob("*.py")
        if path.name != "errors.py"
    )
    defined = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.EditbotError)
    ]
    # A base class counts when a subclass of it is raised.
    raised = {name for name in defined if re.search(rf"\b{name}\(", source)}
    kept = {
        name
        for name in defined
        if any(issubclass(getattr(errors, r), getattr(errors, name)) for r in raised)
    }
    assert set(defined) == kept, f"never raised: {sorted(set(defined) - kept)}"
