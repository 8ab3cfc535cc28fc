"""Migrations form one line of history: one head, so `hedui db upgrade` and every
replica agree on what "up to date" means."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from verifier.storage.migrate import alembic_config


def test_migrations_have_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite:///:memory:"))
    heads = script.get_heads()
    assert len(heads) == 1, f"migration heads {heads}: add a merge revision joining them"
