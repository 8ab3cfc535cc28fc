"""Request documents for benchmarks, from the sandbox population."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from hedui_sdk.sandbox import Person, Population
from verifier.api.client import Client, consent_from_json
from verifier.cli.runtime import consent_doc


def household_request(pop: Population, region: str, index: int, members: int = 4) -> dict[str, Any]:
    """A household file of exactly ``members`` members (taken from consecutive households)."""
    people: list[Person] = []
    households = pop.households(region)
    i = index
    while len(people) < members:
        people.extend(households[i % len(households)].members)
        i += 1
    chosen = people[:members]
    # The canonical JSON of CreateVerificationRequest (docs/household-file.md).
    return {
        "request_id": f"bench-{uuid.uuid4().hex[:16]}",
        "case_id": f"BENCH-{index}",
        "authorization_id": f"SQ-BENCH-{index}",
        "purposes": ["PURPOSE_DIBAO"],
        "household": {
            "region_code": region,
            "members": [
                {
                    "id_type": f"ID_TYPE_{p.id_type.name}",
                    "id_number": p.id_number,
                    "name": p.name,
                    "relation": "RELATION_APPLICANT" if n == 0 else "RELATION_OTHER",
                }
                for n, p in enumerate(chosen)
            ],
        },
        "hukou_nature": "HUKOU_NATURE_RURAL",
    }


async def register_consents(
    client: Client, pop: Population, region: str, indexes: Iterable[int], members: int = 4
) -> None:
    """A signed authorization for each household the benchmark will check (not timed)."""
    today = date.today()
    for i in indexes:
        doc = consent_doc(household_request(pop, region, i, members), today)
        await client.register_consent(consent_from_json(doc))
