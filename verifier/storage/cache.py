"""The answer cache on SQLAlchemy: one sealed row per (subject_ref, source)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hedui_sdk import Window
from verifier.domain.ports import CachedResult, CacheRepository
from verifier.domain.records_codec import records_from_json, records_to_json
from verifier.storage.guard import guard
from verifier.storage.models import ResultCacheRow
from verifier.storage.sealing import Sealer


class SqlCache(CacheRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    async def get(
        self, keys: Sequence[tuple[str, str]], fetched_after: datetime
    ) -> dict[tuple[str, str], CachedResult]:
        if not keys:
            return {}
        async with guard():
            rows = (
                await self._session.execute(
                    select(ResultCacheRow).where(
                        tuple_(ResultCacheRow.subject_ref, ResultCacheRow.source).in_(list(keys)),
                        ResultCacheRow.fetched_at > fetched_after,
                    )
                )
            ).scalars()
            out = {}
            for r in rows:
                plain = self._sealer.open(
                    r.records_sealed, r.key_id, f"result_cache/{r.subject_ref}/{r.source}"
                )
                out[(r.subject_ref, r.source)] = CachedResult(
                    r.subject_ref,
                    r.source,
                    r.status,
                    r.adapter,
                    r.adapter_version,
                    r.as_of,
                    r.fetched_at,
                    records_from_json(json.loads(plain)),
                    Window(r.window_start, r.window_end)
                    if r.window_start is not None and r.window_end is not None
                    else None,
                )
            return out

    async def put(self, results: Sequence[CachedResult]) -> None:
        async with guard():
            for c in results:
                plain = json.dumps(records_to_json(c.records), ensure_ascii=False).encode()
                sealed, kid = self._sealer.seal(plain, f"result_cache/{c.subject_ref}/{c.source}")
                await self._session.merge(
                    ResultCacheRow(
                        subject_ref=c.subject_ref,
                        source=c.source,
                        status=c.status,
                        adapter=c.adapter,
                        adapter_version=c.adapter_version,
                        as_of=c.as_of,
                        fetched_at=c.fetched_at,
                        records_sealed=sealed,
                        key_id=kid,
                        window_start=c.window.start if c.window else None,
                        window_end=c.window.end if c.window else None,
                    )
                )
            await self._session.flush()
