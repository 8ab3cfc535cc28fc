"""What `hedui serve --workers` tells an operator about the kernel before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from verifier.cli.serve_workers import _warn_unless_queued_connections_migrate


@pytest.mark.parametrize(("content", "warned"), [("0\n", True), ("1\n", False)])
def test_a_kernel_that_resets_a_dead_workers_queued_connections_is_named(
    tmp_path: Path, content: str, warned: bool
) -> None:
    setting = tmp_path / "tcp_migrate_req"
    setting.write_text(content)
    with structlog.testing.capture_logs() as logs:
        _warn_unless_queued_connections_migrate(setting)
    events = [entry["event"] for entry in logs]
    assert events == (["queued_connections_reset_on_worker_death"] if warned else [])
    if warned:
        assert "net.ipv4.tcp_migrate_req" in logs[0]["detail"]


def test_a_kernel_without_the_setting_says_nothing(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        _warn_unless_queued_connections_migrate(tmp_path / "absent")
    assert logs == []
