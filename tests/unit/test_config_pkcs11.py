"""``[keys.pkcs11]``: an HSM named by module, token and key labels, the PIN only by
reference; each mistake refused by its dotted key, never repeating the value."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.config import ConfigError, Pkcs11Config, parse_config

HSM = {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "hedui", "pin": "env:HSM_PIN"}


def keys(**pkcs11: Any) -> dict[str, Any]:
    return {"keys": {"dir": "k", "pkcs11": {**HSM, **pkcs11}}}


def test_file_keys_are_the_default_and_the_table_names_the_token() -> None:
    assert parse_config({}).pkcs11 is None
    assert parse_config(keys(audit_key_label="hedui-audit")).pkcs11 == Pkcs11Config(
        module=HSM["module"],
        token_label="hedui",
        pin="env:HSM_PIN",
        signing_key_label="hedui-signing",
        audit_key_label="hedui-audit",
    )


@pytest.mark.parametrize(
    ("changes", "key", "value"),
    [
        ({"pin": "123456"}, "keys.pkcs11.pin", "123456"),
        ({"pin": "value:123456"}, "keys.pkcs11.pin", "123456"),
        ({"module": "libsofthsm2.so"}, "keys.pkcs11.module", ""),
        ({"token_label": "a" * 33}, "keys.pkcs11.token_label", ""),
        ({"signing_key_label": "key with spaces"}, "keys.pkcs11.signing_key_label", ""),
        ({"audit_key_label": ""}, "keys.pkcs11.audit_key_label", ""),
        ({"signing_key_label": "ｓｉｇｎ"}, "keys.pkcs11.signing_key_label", ""),
        ({"slot": 0}, "keys.pkcs11.slot", ""),
    ],
)
def test_mistakes_are_named_by_key(changes: dict[str, Any], key: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(keys(**changes))
    assert key in str(caught.value)
    assert not value or value not in str(caught.value)


def test_a_missing_table_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"keys\.pkcs11\.pin"):
        parse_config({"keys": {"pkcs11": {k: v for k, v in HSM.items() if k != "pin"}}})


def test_the_pin_is_read_only_when_the_token_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(keys())
    assert cfg.pkcs11 is not None
    monkeypatch.delenv("HSM_PIN", raising=False)
    with pytest.raises(ConfigError, match="HSM_PIN is not set"):
        cfg.pkcs11.resolved_pin()
    monkeypatch.setenv("HSM_PIN", "4321")
    assert cfg.pkcs11.resolved_pin().reveal() == "4321"
