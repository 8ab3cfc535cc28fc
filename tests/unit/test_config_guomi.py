"""``[keys] sign_with`` and ``seal_with``: the algorithms named, checked, and the defaults."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.config import ConfigError, parse_config
from verifier.signing import sm2
from verifier.signing.keystore import signing_algorithms


def test_unset_means_the_defaults() -> None:
    cfg = parse_config({})
    assert cfg.sign_with == ()
    assert cfg.seal_with == "aes-256-gcm"
    expected = ("ed25519", "sm2") if sm2.available() else ("ed25519",)
    assert signing_algorithms(cfg.sign_with) == expected


def test_named_algorithms_keep_their_order() -> None:
    cfg = parse_config({"keys": {"sign_with": ["sm2", "ed25519"], "seal_with": "sm4-gcm"}})
    assert cfg.sign_with == ("sm2", "ed25519")
    assert signing_algorithms(cfg.sign_with) == ("sm2", "ed25519")
    assert cfg.seal_with == "sm4-gcm"
    assert signing_algorithms(("ed25519",)) == ("ed25519",)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"sign_with": []}, "keys.sign_with: must name at least one of ed25519, sm2"),
        ({"sign_with": ["rsa"]}, "keys.sign_with: names an unknown algorithm"),
        ({"sign_with": ["sm2", "sm2"]}, "keys.sign_with: names an algorithm twice"),
        ({"sign_with": "sm2"}, "keys.sign_with"),
        ({"seal_with": "aes-128-cbc"}, "keys.seal_with: must be one of aes-256-gcm, sm4-gcm"),
    ],
)
def test_bad_choices_are_refused_naming_the_key(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"keys": keys})
    assert message in str(caught.value)
    assert "rsa" not in str(caught.value) and "aes-128" not in str(caught.value)
