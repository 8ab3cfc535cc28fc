"""The console's pure pieces: who a session or an ID token names, the one-time link,
what changed between two report versions, and the command's settings."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest
from aiohttp_session import Session

from verifier.cli.console_cmds import check_settings, register, settings_from
from verifier.config import Config, ConfigError, Principal
from verifier.domain.caller import Caller
from verifier.domain.errors import PermissionDenied, Unauthenticated
from verifier.web.guard import caller_of
from verifier.web.oidc import caller_from_claims
from verifier.web.report_view import changes
from verifier.web.settings import ConsoleSettings, OidcSettings, SignInLink
from verifier.web.signin import OneTimeLink

WHO = {"system": "case-system-a", "user": "worker-1", "role": "caseworker", "regions": ["3703"]}
OIDC = OidcSettings(issuer="http://127.0.0.1:1", client_id="hedui-console")
ROLES = ("caseworker", "reviewer", "auditor")


def _session(**data: Any) -> Session:
    return Session("id", data={"session": data, "created": int(time.time())}, new=False)


def test_a_session_names_its_caller_until_it_expires() -> None:
    now = int(time.time())
    assert caller_of(_session(who=WHO, exp=now + 60)) == Caller(
        "case-system-a", "worker-1", "caseworker", ("3703",)
    )
    assert caller_of(_session(who=WHO, exp=now - 1)) is None
    assert caller_of(_session(who=WHO)) is None  # no expiry: never valid
    assert caller_of(_session()) is None


class _Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_one_time_link_signs_in_once_and_only_with_its_token() -> None:
    caller = Caller("case-system-a", "worker-1", "caseworker", ("3703",))
    link = OneTimeLink(caller, 900)
    token = link.path.rsplit("/", 1)[1]
    assert link.take(token + "x") is None
    assert link.take(token) == caller
    assert link.take(token) is None
    assert link.path == ""


def test_the_one_time_link_expires_unused() -> None:
    caller = Caller("case-system-a", "worker-1", "caseworker", ("3703",))
    clock = _Clock()
    fresh, stale = OneTimeLink(caller, 900, clock), OneTimeLink(caller, 900, clock)
    clock.now += 899.9
    assert fresh.take(fresh.path.rsplit("/", 1)[1]) == caller
    token = stale.path.rsplit("/", 1)[1]
    clock.now += 0.1
    assert stale.take(token) is None
    assert stale.path == ""  # gone, not merely refused this once
    clock.now -= 10  # a clock never goes back, but the link stays gone if it did
    assert stale.take(token) is None


def test_claims_give_user_role_and_regions_within_the_principal() -> None:
    claims = {"sub": "s1", "preferred_username": "auditor-7", "hedui_role": "auditor"}
    caller = caller_from_claims(
        OIDC, "case-system-a", ROLES, ("3703",), {**claims, "hedui_regions": ["370322"]}
    )
    assert caller == Caller("case-system-a", "auditor-7", "auditor", ("370322",))
    spaced = caller_from_claims(OIDC, "s", ROLES, ("37",), {**claims, "hedui_regions": "3703 3701"})
    assert spaced.regions == ("3703", "3701")


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"hedui_role": "admin", "hedui_regions": ["3703"]}, PermissionDenied),
        ({"hedui_role": "auditor", "hedui_regions": ["3415"]}, PermissionDenied),
        ({"hedui_role": "auditor", "hedui_regions": []}, PermissionDenied),
        ({"hedui_role": "auditor", "hedui_regions": ["３７03"]}, PermissionDenied),
        ({"hedui_role": "auditor", "hedui_regions": ["3703\n"]}, PermissionDenied),
        (
            {"hedui_role": "auditor", "hedui_regions": ["3703"], "preferred_username": "a b"},
            Unauthenticated,
        ),
        (
            {
                "hedui_role": "auditor",
                "hedui_regions": ["3703"],
                "preferred_username": "370322197003090016",
            },
            Unauthenticated,
        ),
    ],
)
def test_claims_outside_the_principal_or_malformed_are_refused(
    claims: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        caller_from_claims(OIDC, "case-system-a", ROLES, ("3703",), {"sub": "s1", **claims})


def test_changes_name_every_differing_field_but_not_the_per_version_ones() -> None:
    v1 = {
        "version": 1,
        "report_id": "r1",
        "created_at": "a",
        "previous_sha256": "",
        "sources": [{"source": "bank", "status": "PENDING"}],
        "totals": {"assets_fen": 0},
    }
    v2 = {
        **v1,
        "version": 2,
        "report_id": "r2",
        "created_at": "b",
        "previous_sha256": "ab",
        "sources": [{"source": "bank", "status": "FOUND"}],
        "totals": {"assets_fen": 500},
        "records": [{"value_fen": 500}],
    }
    found = {(c.path, c.before, c.after) for c in changes(v1, v2)}
    assert found == {
        ("sources[0].status", '"PENDING"', '"FOUND"'),
        ("totals.assets_fen", "0", "500"),
        ("records[0].value_fen", "—", "500"),
    }


@pytest.mark.parametrize(
    ("public_url", "host", "link", "refused"),
    [
        ("", "127.0.0.1", SignInLink("worker-1", "caseworker"), ""),
        ("", "::1", SignInLink("worker-1", "caseworker"), ""),
        ("", "0.0.0.0", SignInLink("worker-1", "caseworker"), "plain HTTP"),
        ("https://hedui.example", "0.0.0.0", SignInLink("worker-1", "caseworker"), ""),
        ("", "127.0.0.1", SignInLink("worker-1", "admin"), "--role"),
        ("", "127.0.0.1", SignInLink("370322197003090016", "caseworker"), "--user"),
        ("", "127.0.0.1", SignInLink("worker-1", "caseworker", 59), "--link-minutes"),
        ("", "127.0.0.1", SignInLink("worker-1", "caseworker", 24 * 3600 + 1), "--link-minutes"),
    ],
)
def test_the_console_refuses_to_start_unsafe_or_unusable(
    public_url: str, host: str, link: SignInLink, refused: str
) -> None:
    settings = ConsoleSettings(system="case-system-a", public_url=public_url, link=link)
    principal = Principal("case-system-a", ("caseworker", "auditor"), ("3703",))
    if not refused:
        check_settings(settings, principal, host)
        return
    with pytest.raises(ConfigError, match=refused):
        check_settings(settings, principal, host)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["console", *argv])


def test_console_arguments_make_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config(principals={"sys-a": Principal("sys-a", ("auditor",), ("3703",))})
    link = settings_from(cfg, _args("--role", "auditor", "--user", "auditor-1"))
    assert link.system == "sys-a"  # the only principal
    assert link.link == SignInLink("auditor-1", "auditor", 15 * 60)
    longer = settings_from(cfg, _args("--link-minutes", "60"))
    assert longer.link is not None and longer.link.seconds == 3600
    assert link.oidc is None
    monkeypatch.setenv("CONSOLE_OIDC_SECRET", "s3cret")
    oidc = settings_from(
        cfg,
        _args(
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-secret",
            "env:CONSOLE_OIDC_SECRET",
            "--public-url",
            "https://hedui.example",
            "--session-minutes",
            "30",
        ),
    )
    assert oidc.link is None  # no one-time link beside OpenID Connect
    assert oidc.oidc is not None
    assert oidc.oidc.client_secret == "s3cret"
    assert oidc.session_seconds == 1800
    assert "s3cret" not in repr(oidc)
    two = Config(principals={**cfg.principals, "sys-b": Principal("sys-b", ("auditor",), ("34",))})
    with pytest.raises(ConfigError, match="--system"):
        settings_from(two, _args())


def test_a_session_length_outside_5_minutes_to_a_day_is_refused() -> None:
    principal = Principal("case-system-a", ("caseworker",), ("3703",))
    for seconds in (0, 299, 24 * 3600 + 1):
        settings = ConsoleSettings(
            system="case-system-a",
            public_url="",
            session_seconds=seconds,
            link=SignInLink("worker-1", "caseworker"),
        )
        with pytest.raises(ConfigError, match="--session-minutes"):
            check_settings(settings, principal, "127.0.0.1")
