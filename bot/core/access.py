"""Who may do what: the one admin rule.

Adapters report what their platform says of a person (Slack: a workspace admin or owner;
Discord: Manage Server); operators add people with EDITBOT_ADMINS. Nothing else decides.
"""

from __future__ import annotations

from collections.abc import Collection


def is_admin(*, user: str, platform_admin: bool, admin_ids: Collection[str]) -> bool:
    """Whether `user` administers editbot here: the platform says so, or EDITBOT_ADMINS does."""
    return platform_admin or user in admin_ids


def may_act_for(
    *, requester: str, user: str, platform_admin: bool, admin_ids: Collection[str]
) -> bool:
    """Whether `user` may confirm or cancel `requester`'s edit: the requester or an admin."""
    return user == requester or is_admin(
        user=user, platform_admin=platform_admin, admin_ids=admin_ids
    )
