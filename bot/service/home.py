"""A person's Home view (EditServicePort.home): recent edits, their channels' budgets, help,
and for admins every channel's spend this period. Read-only."""

from __future__ import annotations

from datetime import datetime

from bot.core.access import is_admin
from bot.core.budgets import workspace_scope
from bot.core.config import Settings, budget_defaults
from bot.core.domain import Place
from bot.core.home import RECENT_EDITS, ChannelBudget, EditSummary, HomeView
from bot.service.thread_moves import HELP_TEXT
from storage.budget_reports import channel_scopes, standing
from storage.db import Sessions
from storage.models import Job
from storage.user_edits import recent_jobs

BUDGETS_SHOWN = 10
"""Channels of the person's own whose budgets a Home view lists."""


async def home_view(
    sessions: Sessions, settings: Settings, place: Place, *, platform_admin: bool, now: datetime
) -> HomeView:
    """What `place.user` sees on their Home in `place.workspace` (place.channel is unused)."""
    admin = is_admin(user=place.user, platform_admin=platform_admin, admin_ids=settings.admin_ids)
    defaults = budget_defaults(settings)
    async with sessions() as session:
        jobs = await recent_jobs(
            session,
            platform=place.platform,
            workspace=place.workspace,
            user=place.user,
            limit=RECENT_EDITS,
        )
        own = list(dict.fromkeys(j.scope for j in jobs))[:BUDGETS_SHOWN]
        every = await channel_scopes(session, prefix=workspace_scope(place.scope)[:-1])
        budgets = {}
        for scope in dict.fromkeys([*own, *(every if admin else [])]):
            now_ = await standing(session, scope=scope, defaults=defaults, now=now)
            budgets[scope] = ChannelBudget(
                scope=scope,
                channel=scope.rsplit(":", 1)[-1],
                period=now_.policy.period,
                spent_micros=now_.spent_micros,
                reserved_micros=now_.reserved_micros,
                cap_micros=now_.cap_micros,
                user_cap_micros=now_.policy.user_cap_micros,
            )
    return HomeView(
        edits=tuple(_summary(j) for j in jobs),
        budgets=tuple(budgets[s] for s in own),
        help_text=HELP_TEXT,
        admin=admin,
        all_channels=tuple(budgets[s] for s in every) if admin else (),
    )


def _summary(job: Job) -> EditSummary:
    return EditSummary(
        job_id=job.id,
        place=Place(
            platform=job.platform,
            workspace=job.workspace,
            channel=job.channel,
            user=job.user,
            thread=job.thread,
        ),
        prompt=job.prompt,
        status=str(job.status),
        cost_micros=job.cost_micros if job.cost_micros is not None else job.estimate_micros,
        created_at=job.created_at,
    )
