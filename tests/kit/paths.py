"""Where things are: the repository root (subprocesses run from it) and the test data."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository root: the working directory and PYTHONPATH of editbot subprocesses."""
DATA = REPO / "tests" / "data"
"""Test data kept in the repository (OpenAI's OpenAPI schema of the edits endpoint)."""
