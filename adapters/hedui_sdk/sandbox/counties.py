"""The seed counties (GB/T 2260 codes) the sandbox population lives in, and local facts.

The figures are plausible round numbers for synthetic data, not statistics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class County:
    """A county-level region and the local numbers the generator draws from.

    ``urban_share`` is the fraction of households registered as urban; ``price_per_m2_yuan``
    a typical residential price; ``coastal`` whether fishing vessels occur there.
    """

    code: str
    name: str
    prefecture: str
    urban_share: float
    price_per_m2_yuan: int
    coastal: bool = False


SEED_COUNTIES: tuple[County, ...] = (
    County("370322", "高青县", "淄博市", urban_share=0.30, price_per_m2_yuan=4500),
    County("370305", "临淄区", "淄博市", urban_share=0.70, price_per_m2_yuan=7500),
    County("370281", "胶州市", "青岛市", urban_share=0.55, price_per_m2_yuan=9500, coastal=True),
    County("371522", "莘县", "聊城市", urban_share=0.20, price_per_m2_yuan=4000),
    County("341824", "绩溪县", "宣城市", urban_share=0.35, price_per_m2_yuan=6000),
)
"""高青 370322, 临淄 370305, 胶州 370281, 莘县 371522, 绩溪 341824."""

COUNTY_BY_CODE: dict[str, County] = {c.code: c for c in SEED_COUNTIES}
