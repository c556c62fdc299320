"""Job rows <-> JobSpecs: the one place a `jobs` row is decoded (and a new one encoded).

The service and the workers never see the ORM row: claims, lookups and sweeps hand them the
frozen bot.core.jobs.JobSpec decoded here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.domain import Place
from bot.core.jobs import JobSpec, decode_request, encode_request
from storage.models import Job


def spec_of(row: Mapping[Any, Any]) -> JobSpec:
    """The JobSpec of a row's columns (a RETURNING mapping, or `job_values(job)`)."""
    options, size, aspect = decode_request(row["options_json"])
    return JobSpec(
        id=row["id"],
        place=Place(
            platform=row["platform"],
            workspace=row["workspace"],
            channel=row["channel"],
            user=row["user"],
            thread=row["thread"],
        ),
        prompt=row["prompt"],
        options=options,
        size=size,
        aspect=aspect,
        provider=row["provider"],
        status=row["status"],
        estimate_micros=row["estimate_micros"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        provider_task_id=row["provider_task_id"],
        status_message_id=row["status_message_id"],
        edit_thread_id=row["edit_thread_id"],
        base_version=row["base_version"],
        batch_id=row["batch_id"],
        parent_job_id=row["parent_job_id"],
        version=row["version"],
        cost_micros=row["cost_micros"],
        error=row["error"],
        finished_at=row["finished_at"],
    )


def spec_of_row(job: Job) -> JobSpec:
    """The JobSpec of an ORM row."""
    return spec_of(job.__dict__)


def row_of(spec: JobSpec) -> Job:
    """A new row for `spec` (its request encoded as JSON), to insert."""
    place = spec.place
    return Job(
        id=spec.id,
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        thread=place.thread,
        user=place.user,
        scope=spec.scope,
        prompt=spec.prompt,
        options_json=encode_request(spec.request((), None)),
        provider=spec.provider,
        status=spec.status,
        estimate_micros=spec.estimate_micros,
        parent_job_id=spec.parent_job_id,
        batch_id=spec.batch_id,
        edit_thread_id=spec.edit_thread_id,
        base_version=spec.base_version,
        status_message_id=spec.status_message_id,
        created_at=spec.created_at,
        updated_at=spec.created_at,
    )
