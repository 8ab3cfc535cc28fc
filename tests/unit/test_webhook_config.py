"""``[webhooks]`` in the config file: subscribers with https URLs, known event types, one
or two secret references (env:/file:, never values); unknown keys and a retry schedule
shorter than a day refused; messages name the key and never repeat a URL or secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from verifier.config import ConfigError, parse_config

GOOD = {
    "url": "https://case.example/hedui/hooks?token=t0ken",
    "events": ["report.issued", "alert.raised"],
    "secrets": ["env:HEDUI_WEBHOOK_CASE"],
}


def webhooks(**sub: Any) -> dict[str, Any]:
    return {"webhooks": {"subscribers": {"county-case": {**GOOD, **sub}}}}


def test_a_subscriber_is_read() -> None:
    cfg = parse_config(
        {
            "webhooks": {
                "timeout_seconds": 5,
                "subscribers": {
                    "county-case": {**GOOD, "secrets": ["env:NEW", "file:/run/secrets/old"]},
                    "local": {**GOOD, "url": "http://127.0.0.1:9000/hooks"},
                },
            }
        }
    )
    sub = cfg.webhooks.subscribers["county-case"]
    assert sub.events == ("report.issued", "alert.raised")
    assert sub.secrets == ("env:NEW", "file:/run/secrets/old")
    assert cfg.webhooks.timeout_seconds == 5.0
    assert sum(cfg.webhooks.retry_schedule_seconds) > 86400
    assert parse_config({}).webhooks.subscribers == {}


def test_secrets_are_resolved_by_reference(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEDUI_WEBHOOK_CASE", "whsec_from-env")
    old = tmp_path / "old"
    old.write_text("whsec_from-file\n")
    cfg = parse_config(webhooks(secrets=["env:HEDUI_WEBHOOK_CASE", f"file:{old}"]))
    secrets = cfg.webhooks.subscribers["county-case"].resolved_secrets()
    assert [s.reveal() for s in secrets] == ["whsec_from-env", "whsec_from-file"]
    assert "whsec" not in repr(secrets)
    monkeypatch.delenv("HEDUI_WEBHOOK_CASE")
    with pytest.raises(ConfigError, match=r"secrets\[0\]: environment variable"):
        cfg.webhooks.subscribers["county-case"].resolved_secrets()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (webhooks(url="ftp://case.example/x"), "county-case.url: must be an https:// URL"),
        (webhooks(url="http://case.example/x"), "must be https:// (http:// only to loopback)"),
        (webhooks(url="https://case.example/x\n"), "county-case.url: must be an https:// URL"),
        (webhooks(url="https:///nohost"), "county-case.url: must be an https:// URL"),
        (webhooks(events=[]), "county-case.events: one or more of"),
        (webhooks(events=["report.issued", "webhook.test"]), "county-case.events: one or more"),
        (webhooks(secrets=[]), "county-case.secrets: one reference, or two while rotating"),
        (webhooks(secrets=["env:A", "env:B", "env:C"]), "one reference, or two while rotating"),
        (webhooks(secrets=["whsec_abcdef"]), r"secrets[0]: must be env:NAME or file:PATH"),
        (webhooks(secrets=["value:whsec_abc"]), r"secrets[0]: must be env:NAME or file:PATH"),
        (webhooks(secrets=["env:"]), r"secrets[0]: must be env:NAME or file:PATH"),
        (webhooks(secret="env:X"), "county-case.secret: unknown key"),
        ({"webhooks": {"subscribers": {"Bad Name": GOOD}}}, "the name must be"),
        ({"webhooks": {"retries": 3}}, "webhooks.retries: unknown key"),
        ({"webhooks": {"timeout_seconds": 0}}, "webhooks.timeout_seconds: must be between"),
        (
            {"webhooks": {"timeout_seconds": 30, "lease_seconds": 20}},
            "webhooks.lease_seconds: must exceed timeout_seconds",
        ),
        (
            {"webhooks": {"retry_schedule_seconds": [5, 300, 3600]}},
            "must add up to at least 86400",
        ),
        ({"webhooks": {"retry_schedule_seconds": [-1, 90000]}}, "1 to 30 waits"),
        ({"webhooks": {"retry_schedule_seconds": [True, 90000]}}, "1 to 30 waits"),
    ],
)
def test_bad_webhook_settings_are_refused_by_key(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    message = str(caught.value)
    assert problem in message
    assert "t0ken" not in message and "case.example" not in message
    assert "whsec_abc" not in message
