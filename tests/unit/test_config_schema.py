"""The configuration file's schema: unknown keys refused in every table, types and bounds
checked, each mistake named by its dotted key and never by its value; one SourcePolicy
from a ``[sources.NAME]`` table to the fan-out."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from hedui_sdk import SourceKind
from verifier.config import ConfigError, default_config, parse_config
from verifier.domain.source_policy import POLICY_KNOBS
from verifier.service.fanout import SourcePolicy

SUB = {"url": "https://case.example/hooks", "events": ["report.issued"], "secrets": ["env:W"]}
TAX = {"base_url": "http://tax.example/tax"}


def refused(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    return str(caught.value)


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"servre": {}}, "servre"),
        ({"server": {"listne": "127.0.0.1:1"}}, "server.listne"),
        ({"database": {"uri": "sqlite:///x.db"}}, "database.uri"),
        ({"keys": {"directory": "k"}}, "keys.directory"),
        ({"limits": {"per_user_daily": 5}}, "limits.per_user_daily"),
        ({"tls": {"ca": "ca.pem"}}, "tls.ca"),
        ({"principals": {"sys-a": {"roles": [], "regions": ["37"], "cn": "x"}}}, "principals.sys-a.cn"),
        ({"sources": {"tax": {**TAX, "timout": 3}}}, "sources.tax.timout"),
        ({"policy": {"allow_examples": []}}, "policy.allow_examples"),
        ({"webhooks": {"retries": 3}}, "webhooks.retries"),
        ({"webhooks": {"subscribers": {"case": {**SUB, "secret": "env:X"}}}}, "webhooks.subscribers.case.secret"),
        ({"roster": {"workers": 2}}, "roster.workers"),
        ({"batches": {"workers": 2}}, "batches.workers"),
        ({"time_limits": {"due_days": 20}}, "time_limits.due_days"),
    ],
)  # fmt: skip
def test_an_unknown_key_is_refused_at_every_level(doc: dict[str, Any], key: str) -> None:
    assert refused(doc).startswith(f"{key}: unknown key")


def test_the_misspelt_source_timeout_is_refused_and_the_right_name_offered() -> None:
    message = refused({"sources": {"tax": {**TAX, "timout": 3}}})
    assert message.startswith("sources.tax.timout: unknown key; known: ")
    assert "timeout" in message.split("known: ")[1].split(", ")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sources": {"tax": {**TAX, "timeout": "5"}}}, "sources.tax.timeout: must be float"),
        ({"sources": {"tax": {**TAX, "retries": 1.5}}}, "sources.tax.retries: must be int"),
        ({"sources": {"tax": {**TAX, "retries": True}}}, "sources.tax.retries: must be int"),
        ({"server": {"deadline_seconds": True}}, "server.deadline_seconds: must be float"),
        ({"roster": {"scheduler": 1}}, "roster.scheduler: must be bool"),
        ({"principals": {"sys-a": "caseworker"}}, "principals.sys-a: must be a table"),
        ({"policy": {"allow_example_parameters": "370322"}}, "policy.allow_example_parameters: must be list"),
        ({"sources": {"tax": {}}}, "sources.tax.base_url: must be set"),
        ({"sources": {"tax": {"base_url": ""}}}, "sources.tax.base_url: must be set"),
        ({"sources": {"taxes": TAX}}, "sources.taxes: unknown source; one of "),
        ({"tls": {"mode": "staging"}}, "tls.mode: must be one of production, development"),
    ],
)  # fmt: skip
def test_a_wrong_type_names_the_key_and_what_it_must_be(doc: dict[str, Any], message: str) -> None:
    assert refused(doc).startswith(message)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sources": {"tax": {**TAX, "timeout": 0}}}, "sources.tax.timeout: must be above 0 and at most 600"),
        ({"sources": {"tax": {**TAX, "timeout": 601}}}, "sources.tax.timeout: must be above 0"),
        ({"sources": {"tax": {**TAX, "timeout": float("nan")}}}, "sources.tax.timeout: must be above 0"),
        ({"sources": {"tax": {**TAX, "max_concurrency": 0}}}, "sources.tax.max_concurrency: must be between 1 and 1024"),
        ({"sources": {"tax": {**TAX, "retries": -1}}}, "sources.tax.retries: must be between 0 and 10"),
        ({"sources": {"tax": {**TAX, "batch_reserve": 1}}}, "sources.tax.batch_reserve: must be at least 0 and below 1"),
        ({"sources": {"tax": {**TAX, "rate_limit": -1}}}, "sources.tax.rate_limit: must be between 0 and"),
        ({"sources": {"tax": {**TAX, "breaker_threshold": 0}}}, "sources.tax.breaker_threshold: must be between 1 and"),
        ({"server": {"listen": "0.0.0.0:70000"}}, "server.listen: must be HOST:PORT"),
        ({"server": {"listen": "0.0.0.0"}}, "server.listen: must be HOST:PORT"),
        ({"server": {"deadline_seconds": 0}}, "server.deadline_seconds: must be between"),
        ({"database": {"lock_timeout_ms": 0}}, "database.lock_timeout_ms: must be between 1 and"),
        ({"limits": {"per_user_daily_soft": 300}}, "limits.per_user_daily_soft: must not exceed per_user_daily_hard"),
        ({"limits": {"per_user_daily_hard": 0}}, "limits.per_user_daily_hard: must be between 1 and"),
        ({"roster": {"batch": 0}}, "roster.batch: must be between 1 and 1000"),
        ({"batches": {"concurrency": 2000}}, "batches.concurrency: must be between 1 and 1024"),
        ({"time_limits": {"overdue_scan_seconds": 0.5}}, "time_limits.overdue_scan_seconds: must be between 1 and 86400"),
        ({"webhooks": {"interval_seconds": 0}}, "webhooks.interval_seconds: must be between 0.05 and 60"),
    ],
)  # fmt: skip
def test_a_value_outside_its_bounds_is_refused_naming_the_range(
    doc: dict[str, Any], message: str
) -> None:
    assert refused(doc).startswith(message)


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:50051", "[::]:50051", "localhost:0", "unix:/run/h.sock"]
)
def test_listen_addresses_grpc_takes_are_accepted(listen: str) -> None:
    assert parse_config({"server": {"listen": listen}}).listen == listen


def test_a_source_table_is_read_into_the_one_source_policy() -> None:
    cfg = parse_config(
        {
            "sources": {
                "tax": {
                    **TAX,
                    "timeout": 5,
                    "retries": 0,
                    "max_concurrency": 3,
                    "rate_limit": 20,
                    "backoff_initial": 0.5,
                    "reuse_days": 30,
                    "credentials": {"token": "value:sandbox-token"},
                    "options": {"region": "3703", "page": 50, "strict": True},
                }
            }
        }
    )
    tax = cfg.sources[SourceKind.TAX]
    assert tax.adapter == "tax" and tax.base_url == TAX["base_url"]
    assert tax.policy == SourcePolicy(
        timeout=5.0, retries=0, max_concurrency=3, rate_limit=20.0, backoff_initial=0.5,
        reuse_days=30,
    )  # fmt: skip
    assert type(tax.policy) is SourcePolicy  # the fan-out's own type, not a copy
    assert tax.options == {"region": "3703", "page": "50", "strict": "True"}
    assert tax.settings().timeout == 5.0


def test_every_knob_of_the_policy_is_a_key_of_a_source_table() -> None:
    defaults = SourcePolicy()
    table = {**TAX, **{name: getattr(defaults, name) for name in POLICY_KNOBS}}
    assert parse_config({"sources": {"tax": table}}).sources[SourceKind.TAX].policy == defaults
    assert set(POLICY_KNOBS) == {f.name for f in fields(SourcePolicy)}


def test_absent_tables_keep_the_embedded_defaults() -> None:
    cfg, base = parse_config({}), default_config()
    assert cfg.principals == base.principals and cfg.sources == base.sources
    assert cfg.tls.mode == "production"  # a file that says nothing about TLS is production
    assert parse_config({"principals": {}}).principals == {}


@pytest.mark.parametrize(
    "doc",
    [
        {"sources": {"tax": {**TAX, "credentials": {"token": "s3cret-t0ken"}}}},
        {"sources": {"tax": {**TAX, "credentials": {"token": 123456}}}},
        {"database": {"url": "mysql://hedui:s3cret-t0ken@db/hedui"}},
        {"database": {"url": "postgresql://hedui:s3cret-t0ken@db:notaport/hedui"}},
        {"webhooks": {"subscribers": {"case": {**SUB, "secrets": ["s3cret-t0ken"]}}}},
        {"webhooks": {"subscribers": {"case": {**SUB, "url": "ftp://s3cret-t0ken@x/"}}}},
        {"server": {"listen": "s3cret-t0ken"}},
    ],
)
def test_a_refused_value_never_appears_in_the_message(doc: dict[str, Any]) -> None:
    message = refused(doc)
    assert "s3cret" not in message and "t0ken" not in message and "123456" not in message


def test_a_bare_credential_is_refused_at_reading_naming_the_key() -> None:
    message = refused({"sources": {"tax": {**TAX, "credentials": {"token": "abc"}}}})
    assert message == "sources.tax.credentials.token: must start with env:, file: or value:"


def test_the_database_url_stays_out_of_the_config_repr() -> None:
    cfg = parse_config({"database": {"url": "postgresql://hedui:s3cret@db/hedui"}})
    assert cfg.database_url.endswith("@db/hedui")
    assert "s3cret" not in repr(cfg)
