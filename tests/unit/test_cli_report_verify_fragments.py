"""``hedui report verify --peer-jwks NAME=PATH``: a report embedding a peer's fragment
verifies offline only with the peer's JWKS, and only while the fragment's bytes, its key
id, its names and the report's entries for it all hold."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.openssl_helpers import need_sm2
from tests.unit.report_fragment_helpers import (
    APPLICANT_ID,
    PEER,
    PEER_KEY,
    REPORT_KEY,
    SPOUSE_ID,
    context,
    embedded,
    federated,
    local_report,
    peer_answer,
    remote_outcomes,
    request,
)
from verifier.cli.main import main
from verifier.domain.report import build_report
from verifier.signing.fragments import sign_fragment
from verifier.signing.jwks import dumps_jwks, key_id
from verifier.signing.signer import ReportSigner
from verifier.signing.sm2 import Sm2PrivateKey

OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(5, 37)))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "keys.json").write_text(dumps_jwks([REPORT_KEY.public_key()]))
    (tmp_path / "peer.json").write_text(dumps_jwks([PEER_KEY.public_key(), OTHER_KEY.public_key()]))
    return tmp_path


Verify = Callable[..., tuple[int, str, str]]


@pytest.fixture
def verify(files: Path, capsys: pytest.CaptureFixture[str]) -> Verify:
    """Sign ``doc`` as this deployment's report and run ``hedui report verify`` on it:
    (exit code, stdout, stderr), whitespace folded (rich wraps long lines)."""

    def run(doc: dict[str, Any], *extra: str) -> tuple[int, str, str]:
        envelope = files / "report.dsse.json"
        envelope.write_bytes(ReportSigner(REPORT_KEY).sign(doc).envelope)
        code = main(["report", "verify", str(envelope), "--keys", str(files / "keys.json"), *extra])
        out, err = capsys.readouterr()
        return code, " ".join(out.split()), " ".join(err.split())

    return run


def _no_personal_data(*texts: str) -> None:
    for text in texts:
        for raw in (APPLICANT_ID, SPOUSE_ID, APPLICANT_ID[-4:] + " ", "测"):
            assert raw not in text
        assert "**" not in text  # not even masked ID numbers


def _peer(files: Path) -> list[str]:
    return ["--peer-jwks", f"{PEER}={files / 'peer.json'}"]


def test_a_report_with_a_signed_fragment_verifies_with_the_peers_jwks(
    verify: Verify, files: Path
) -> None:
    doc, fragment = federated()
    code, out, err = verify(doc, *_peer(files))
    assert code == 0, err
    assert "VERIFIED: report rep-fed-0001 version 1" in out
    assert f"FRAGMENT VERIFIED: fragment from peer {PEER} to hedui-gaoqing" in out
    assert f"Ed25519 key {fragment.key_id[:16]}" in out
    assert f"envelope SHA-256 {fragment.envelope_sha256[:16]}" in out
    assert "release audit seq 42; 2 source entries agree with it" in out
    _no_personal_data(out, err)


def test_a_local_report_verifies_as_before(verify: Verify) -> None:
    code, out, err = verify(local_report())
    assert code == 0 and err == ""
    # One line, as before fragments: nothing is said about peers.
    assert out.startswith("VERIFIED: report rep-fed-0001 version 1, signed by Ed25519 key ")
    assert out.endswith("payload is RFC 8785 canonical JSON")
    assert "FRAGMENT" not in out


def test_without_the_peers_jwks_it_fails_naming_the_peer_and_the_flag(verify: Verify) -> None:
    doc, _ = federated()
    code, out, err = verify(doc)
    assert code == 1
    assert f"fragment 0 from peer {PEER}: no JWKS given for it" in err
    assert f"--peer-jwks {PEER}=PATH" in err
    _no_personal_data(out, err)


def _with_fragment(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    [entry] = doc["fragments"]
    return doc | {"fragments": [entry | changes]}


def test_a_changed_fragment_byte_fails(verify: Verify, files: Path) -> None:
    doc, fragment = federated()
    changed = bytearray(fragment.envelope)
    changed[changed.index(b'"sig": "') + 9] ^= 0x01
    tampered = _with_fragment(doc, envelope=base64.b64encode(bytes(changed)).decode())
    code, _, err = verify(tampered, *_peer(files))
    assert code == 1
    assert "does not hash to its envelope_sha256" in err


def test_a_changed_fragment_with_its_hash_updated_fails_its_signature(
    verify: Verify, files: Path
) -> None:
    answer = peer_answer()
    fragment = embedded(sign_fragment(answer, PEER_KEY))
    # The peer's body says 800000 fen; someone makes it 8000 and fixes up every hash.
    forged = fragment.envelope
    body = base64.b64decode(forged.split(b'"payload": "')[1].split(b'"')[0])
    new_body = body.replace(b'"amount_fen":800000', b'"amount_fen":8000')
    assert new_body != body
    forged = forged.replace(base64.b64encode(body), base64.b64encode(new_body))
    forged_fragment = replace(
        fragment, envelope=forged, envelope_sha256=hashlib.sha256(forged).hexdigest()
    )
    doc = build_report(
        context(), request(), remote_outcomes(forged_fragment, answer), fragments=[forged_fragment]
    )
    code, _, err = verify(doc, *_peer(files))
    assert code == 1
    assert f"fragment 0 from peer {PEER}: not signed by key" in err


@pytest.mark.parametrize(
    ("kid", "says"),
    [
        (key_id(OTHER_KEY.public_key()), "not signed by key"),  # in the JWKS, did not sign
        ("ab" * 32, "is not in the peer's JWKS"),
    ],
)
def test_a_wrong_key_id_fails(verify: Verify, files: Path, kid: str, says: str) -> None:
    doc, _ = federated()
    code, _, err = verify(_with_fragment(doc, key_id=kid), *_peer(files))
    assert code == 1
    assert f"key {kid[:16]}" in err and says in err


def test_a_source_entry_disagreeing_with_its_fragment_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    sources = [
        s | {"status": "NOT_FOUND", "record_count": 0}
        if s["member_index"] == 1 and s["source"] == "tax"
        else s
        for s in doc["sources"]
    ]
    code, out, err = verify(doc | {"sources": sources}, *_peer(files))
    assert code == 1
    assert (
        "source entry member 1 tax says NOT_FOUND with 0 records, the fragment FOUND with 1" in err
    )
    _no_personal_data(out, err)


def test_a_fragment_under_another_peers_name_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    renamed = _with_fragment(doc, peer="hedui-other")
    jwks = ["--peer-jwks", f"hedui-other={files / 'peer.json'}"]
    code, _, err = verify(renamed, *jwks)
    assert code == 1
    assert "FRAGMENT_WRONG_PEER" in err


def test_a_source_entry_naming_a_fragment_not_embedded_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    code, _, err = verify({k: v for k, v in doc.items() if k != "fragments"}, *_peer(files))
    assert code == 1
    assert "which the report does not embed" in err


def test_a_peer_jwks_without_a_name_is_a_usage_error(
    verify: Verify, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, _ = federated()
    with pytest.raises(SystemExit) as exited:
        verify(doc, "--peer-jwks", str(files / "peer.json"))
    assert exited.value.code == 2
    assert "NAME=PATH" in capsys.readouterr().err


def test_a_fragment_signed_with_sm2_verifies_with_the_peers_sm2_key(
    verify: Verify, files: Path
) -> None:
    need_sm2()
    sm2 = Sm2PrivateKey.generate()
    # Signed with both keys, embedded under the SM2 key id: the SM2 signature is the one checked.
    answer = peer_answer()
    fragment = embedded(sign_fragment(answer, [PEER_KEY, sm2]), kid=key_id(sm2.public_key()))
    doc = build_report(
        context(), request(), remote_outcomes(fragment, answer), fragments=[fragment]
    )
    (files / "peer-sm2.json").write_text(dumps_jwks([sm2.public_key()]))
    code, out, err = verify(doc, "--peer-jwks", f"{PEER}={files / 'peer-sm2.json'}")
    assert code == 0, err
    assert f"signed by SM2 key {fragment.key_id[:16]}" in out


def test_an_unreadable_peer_jwks_fails_clearly(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    code, _, err = verify(doc, "--peer-jwks", f"{PEER}={files / 'missing.json'}")
    assert code == 1
    assert "FRAGMENTS NOT VERIFIED: a --peer-jwks file cannot be read" in err
