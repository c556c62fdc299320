"""bot.core.access: the one admin rule, on plain data."""

from bot.core.access import is_admin, may_act_for

ADMINS = frozenset({"UOPS"})


def test_the_platform_or_editbot_admins_make_an_admin() -> None:
    assert is_admin(user="U1", platform_admin=True, admin_ids=ADMINS)
    assert is_admin(user="UOPS", platform_admin=False, admin_ids=ADMINS)
    assert not is_admin(user="U1", platform_admin=False, admin_ids=ADMINS)


def test_only_the_requester_or_an_admin_may_act_for_an_edit() -> None:
    assert may_act_for(requester="U1", user="U1", platform_admin=False, admin_ids=ADMINS)
    assert may_act_for(requester="U1", user="UOPS", platform_admin=False, admin_ids=ADMINS)
    assert may_act_for(requester="U1", user="U2", platform_admin=True, admin_ids=ADMINS)
    assert not may_act_for(requester="U1", user="U2", platform_admin=False, admin_ids=ADMINS)
