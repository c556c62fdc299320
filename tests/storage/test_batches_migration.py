"""The 0005_batches migration on a database that already has versions: each old version stays
one chosen image, and a version can then hold a batch (several images, one number)."""

from __future__ import annotations

import sqlalchemy as sa

from bot.core.jobs import StoredImage
from storage.db import create_engine, session_factory, upgrade, write_session
from storage.threads import add_versions, get_version, list_versions


async def test_old_versions_become_chosen_single_images_and_batches_fit(
    empty_db_url: str,
) -> None:
    engine = create_engine(empty_db_url)
    try:
        await upgrade(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO edit_threads (id, platform, workspace, channel, thread, "
                    "current_version, last_version, created_at) "
                    "VALUES (1, 'slack', 'T', 'C', '1.0', 2, 2, CURRENT_TIMESTAMP)"
                )
            )
            for n in (1, 2):
                await conn.execute(
                    sa.text(
                        "INSERT INTO thread_versions (thread_id, version, job_id, position, "
                        "sha256, mime, width, height, prompt, created_at) VALUES "
                        f"(1, {n}, 'j{n}', {n - 1}, '{n}', 'image/png', 8, 8, 'p{n}', "
                        "CURRENT_TIMESTAMP)"
                    )
                )
        await upgrade(engine)
        sessions = session_factory(engine)
        async with write_session(sessions) as session:
            old = await list_versions(session, thread_id=1)
            assert [(v.version, v.chosen, v.author) for v in old] == [
                (1, True, None),
                (2, True, None),
            ]
            # v2 was stored at position 1 (a sibling of the old numbering): still found.
            found = await get_version(session, thread_id=1, version=2)
            assert found is not None and found.sha256 == "2"
            image = StoredImage(sha256="b", mime="image/png", width=8, height=8)
            batch = await add_versions(
                session, thread_id=1, job_id="j3", images=[image, image], prompt="two"
            )
        assert [(v.version, v.position) for v in batch] == [(3, 0), (3, 1)]
    finally:
        await engine.dispose()
