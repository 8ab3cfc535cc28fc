"""A principal's regions are ASCII digit prefixes: a fullwidth or other script's digit
would scope a caller to a region no request can ever name."""

from __future__ import annotations

import pytest

from verifier.config import ConfigError, parse_config


def _principal(regions: list[str]) -> dict[str, object]:
    return {"principals": {"case-a": {"roles": ["caseworker"], "regions": regions}}}


@pytest.mark.parametrize("region", ["３７０３", "37\u0660\u0663", "3703\n", "", "3703221"])
def test_non_ascii_or_malformed_region_prefixes_are_refused(region: str) -> None:
    with pytest.raises(ConfigError, match=r"principals\.case-a\.regions"):
        parse_config(_principal([region]))


def test_ascii_prefixes_are_accepted() -> None:
    cfg = parse_config(_principal(["37", "370322"]))
    assert cfg.principals["case-a"].regions == ("37", "370322")
