"""``[metrics]`` and ``[tracing]``: off by default, addresses checked by full match,
mistakes named by key, never by value."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.config import ConfigError, MetricsConfig, TracingConfig, parse_config


def refused(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    return str(caught.value)


def test_both_are_off_unless_configured() -> None:
    cfg = parse_config({})
    assert cfg.metrics == MetricsConfig(listen="")
    assert cfg.tracing == TracingConfig(otlp_endpoint="", service_name="hedui", sample_ratio=1.0)


def test_configured_values_reach_the_configuration() -> None:
    cfg = parse_config(
        {
            "metrics": {"listen": "[::1]:9464"},
            "tracing": {
                "otlp_endpoint": "https://collector.internal:4317",
                "service_name": "hedui-370322",
                "sample_ratio": 0.25,
            },
        }
    )
    assert cfg.metrics.listen == "[::1]:9464"
    assert cfg.tracing == TracingConfig("https://collector.internal:4317", "hedui-370322", 0.25)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"metrics": {"listen": "9464"}}, "metrics.listen: must be HOST:PORT"),
        ({"metrics": {"listen": "0.0.0.0:70000"}}, "metrics.listen: must be HOST:PORT"),
        ({"metrics": {"listen": "0.0.0.0:9464\n"}}, "metrics.listen: must be HOST:PORT"),
        ({"metrics": {"listen": "0.0.0.0:９４６４"}}, "metrics.listen: must be HOST:PORT"),
        ({"metrics": {"port": 9464}}, "metrics.port: unknown key"),
        ({"tracing": {"otlp_endpoint": "collector:4317"}}, "tracing.otlp_endpoint: must be http://"),
        ({"tracing": {"otlp_endpoint": "grpc://c:4317"}}, "tracing.otlp_endpoint: must be http://"),
        ({"tracing": {"sample_ratio": 1.5}}, "tracing.sample_ratio: must be"),
        ({"tracing": {"sample_ratio": "1"}}, "tracing.sample_ratio: must be float"),
        ({"tracing": {"service_name": "hedui server"}}, "tracing.service_name: must be 1-64"),
        ({"tracing": {"endpoint": "http://c:4317"}}, "tracing.endpoint: unknown key"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_its_key(doc: dict[str, Any], message: str) -> None:
    assert refused(doc).startswith(message)
