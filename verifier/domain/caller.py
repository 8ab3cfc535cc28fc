"""Who is calling: the value every use case is given about its caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the system (from its certificate), the end user, role and regions."""

    system: str
    user: str
    role: str
    regions: tuple[str, ...]

    def region_label(self) -> str:
        return ",".join(self.regions)
