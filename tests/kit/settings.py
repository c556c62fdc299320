"""The kit's one settings factory.

Tests never read the machine's `.env`, and the knobs that move money are pinned, so an
operator's environment on a shared machine cannot change what a test asserts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.core.config import Settings

PINNED: dict[str, Any] = {
    "EDITBOT_PROVIDER": "openai",
    "EDITBOT_DEFAULT_BUDGET_USD": "20",
    "EDITBOT_BUDGET_PERIOD": "month",
    "EDITBOT_CONFIRM_ABOVE_USD": "0.50",
    "EDITBOT_ADMINS": "",
}
"""What every test starts from unless it says otherwise: $20 a month, confirm above $0.50."""


def make_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from PINNED plus `overrides` (environment names or field names), no `.env`.

    Args:
        data_dir: EDITBOT_DATA_DIR (the SQLite database and blobs), when the test has one.
    """
    values: dict[str, Any] = dict(PINNED)
    if data_dir is not None:
        values["EDITBOT_DATA_DIR"] = str(data_dir)
    for name, value in overrides.items():
        field = Settings.model_fields.get(name)
        values[field.alias if field is not None and field.alias else name] = value
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
