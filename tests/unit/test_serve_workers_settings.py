"""What `hedui serve --workers` tells an operator about the kernel before it starts."""

from __future__ import annotations

from pathlib import Path

from verifier.cli.serve_workers import queued_connections_reset


def test_a_kernel_that_resets_a_dead_workers_queued_connections_is_named(
    tmp_path: Path,
) -> None:
    setting = tmp_path / "tcp_migrate_req"
    setting.write_text("0\n")
    assert "net.ipv4.tcp_migrate_req is 0" in queued_connections_reset(setting)


def test_a_kernel_that_hands_them_on_says_nothing(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_migrate_req"
    setting.write_text("1\n")
    assert queued_connections_reset(setting) == ""


def test_a_kernel_without_the_setting_says_nothing(tmp_path: Path) -> None:
    assert queued_connections_reset(tmp_path / "absent") == ""
