"""``hedui report verify --peer-jwks NAME=PATH``: a report embedding a peer's fragment
verifies offline only with the peer's JWKS, and only while the fragment's bytes, its key
id, its names and the report's entries for it all hold."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import IdType, Subject, mask_id_number
from hedui_sdk.resident_id import make
from tests.openssl_helpers import need_sm2
from tests.unit.report_fragment_helpers import (
    APPLICANT_ID,
    PEER,
    PEER_KEY,
    REPORT_KEY,
    SOURCES,
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
from verifier.domain.federation_routing import RemoteAsk
from verifier.domain.household import Member, Relation
from verifier.domain.outcomes import SourceStatus
from verifier.domain.report import build_report
from verifier.service.federation.requester import ask_request_id
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
    assert f"envelope SHA-256 {fragment.envelope_sha256[:16]}…; 2 source entries agree" in out
    _no_personal_data(out, err)


def test_the_peers_release_seq_is_not_said_to_be_verified(verify: Verify, files: Path) -> None:
    # The peer does not sign its audit seq: the requester recorded it.
    doc, _ = federated()
    code, out, _ = verify(doc, *_peer(files))
    assert code == 0
    verified = out.split("FRAGMENT VERIFIED:")[1].split("note:")[0]
    assert "agree with it" in verified and "seq" not in verified
    assert "note: fragment from peer hedui-linzi: release audit seq 42 is as this" in out
    assert "the peer does not sign it" in out


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
    records = [r for r in doc["records"] if r["member_index"] != 1]
    code, out, err = verify(doc | {"sources": sources, "records": records}, *_peer(files))
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


def _spouse_tax(doc: dict[str, Any]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = doc["sources"]
    [entry] = [s for s in entries if s["member_index"] == 1 and s["source"] == "tax"]
    return entry


def test_an_answer_relabelled_as_a_local_source_fails(verify: Verify, files: Path) -> None:
    # The fragment says FOUND with 800000 fen; the report makes it a local NOT_FOUND.
    doc, _ = federated()
    bad = copy.deepcopy(doc)
    entry = _spouse_tax(bad)
    entry.update(status="NOT_FOUND", record_count=0, adapter="tax-local")
    del entry["deployment"], entry["fragment_sha256"]
    bad["records"] = [r for r in bad["records"] if r["member_index"] != 1]
    code, out, err = verify(bad, *_peer(files))
    assert code == 1
    assert "source entry member 1 tax is answered in the fragment but does not name it" in err
    _no_personal_data(out, err)


def test_a_record_changed_from_the_fragments_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    bad = copy.deepcopy(doc)
    [wages] = [r for r in bad["records"] if r["member_index"] == 1]
    wages["amount_fen"] = 1  # 800000 in the fragment
    code, out, err = verify(bad, *_peer(files))
    assert code == 1
    assert "source entry member 1 tax: its records are not the fragment's" in err
    assert "800000" not in err
    _no_personal_data(out, err)


def test_an_entry_whose_adapter_is_not_the_fragments_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    bad = copy.deepcopy(doc)
    _spouse_tax(bad)["adapter"] = "tax-local"
    code, _, err = verify(bad, *_peer(files))
    assert code == 1
    assert "source entry member 1 tax: its adapter is not the fragment's" in err


def test_an_entry_naming_the_fragment_for_what_it_does_not_answer_fails(
    verify: Verify, files: Path
) -> None:
    doc, fragment = federated()
    bad = copy.deepcopy(doc)
    [applicant_tax] = [s for s in bad["sources"] if (s["member_index"], s["source"]) == (0, "tax")]
    applicant_tax.update(deployment=PEER, fragment_sha256=fragment.envelope_sha256)
    code, _, err = verify(bad, *_peer(files))
    assert code == 1
    assert "source entry member 0 tax is not answered in the fragment" in err


def test_a_fragment_answering_another_deployment_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated(peer_answer(requester="hedui-jiaozhou"))
    code, _, err = verify(doc, *_peer(files))
    assert code == 1
    assert "FRAGMENT_WRONG_PEER" in err


def test_a_report_not_naming_its_own_deployment_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated()
    code, _, err = verify({k: v for k, v in doc.items() if k != "deployment"}, *_peer(files))
    assert code == 1
    assert "the report does not name its own deployment" in err


def test_a_fragment_answering_another_check_fails(verify: Verify, files: Path) -> None:
    # The same peer, requester, 授权书 and member, but asked for another check.
    other = ask_request_id("00000000-0000-4000-8000-000000000010", RemoteAsk(PEER, (1,), SOURCES))
    doc, _ = federated(peer_answer(request_id=other))
    code, _, err = verify(doc, *_peer(files))
    assert code == 1
    assert "FRAGMENT_REPLAYED" in err


def test_a_fragment_answered_under_another_authorization_fails(verify: Verify, files: Path) -> None:
    doc, _ = federated(replace(peer_answer(), authorization_number="SQ-2026-8"))
    code, _, err = verify(doc, *_peer(files))
    assert code == 1
    assert "answered under another 授权书 than the report's" in err


def test_a_fragment_member_mapped_to_a_member_of_another_id_fails(
    verify: Verify, files: Path
) -> None:
    doc, _ = federated()
    code, _, err = verify(_with_fragment(doc, members=[0]), *_peer(files))
    assert code == 1
    assert "fragment 0 from peer hedui-linzi: its member 0 is not the report's member 0" in err


def test_members_sharing_a_masked_id_are_told_apart(verify: Verify, files: Path) -> None:
    # A third member whose ID number masks like the spouse's (same first and last four):
    # the fragment asked about the spouse (member 1) cannot be passed off as the third's.
    twin = make("370305", date(1954, 9, 14), 12)
    assert twin != SPOUSE_ID and mask_id_number(twin) == mask_id_number(SPOUSE_ID)
    base = request()
    household = replace(
        base.household,
        members=(
            *base.household.members,
            Member(Subject(IdType.RESIDENT_ID, twin, "测试丙"), Relation.PARENT),
        ),
    )
    answer = peer_answer()
    fragment = embedded(sign_fragment(answer, PEER_KEY))
    remote = remote_outcomes(fragment, answer)
    own = [o for o in remote if o.member_index == 0]
    spouse_here = [
        replace(o, deployment="", fragment_sha256="", status=SourceStatus.NOT_FOUND, records=())
        for o in remote
        if o.member_index == 1
    ]
    twin_by_peer = [replace(o, member_index=2) for o in remote if o.member_index == 1]
    outcomes = own + spouse_here + twin_by_peer
    doc = build_report(
        context(), replace(base, household=household), outcomes, fragments=[fragment]
    )
    assert doc["fragments"][0]["members"] == [2]
    code, out, err = verify(doc, *_peer(files))
    assert code == 1
    assert "FRAGMENT_REPLAYED" in err
    _no_personal_data(out, err)
