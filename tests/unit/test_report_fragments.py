"""Reports that embed a peer's fragment (异地协查): a remote source names the deployment
that answered and the fragment holding the answer, the fragment is embedded whole with
its provenance, and a report made here alone reads byte for byte as before."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from hedui_sdk import IncomeRecord
from tests.unit.report_fragment_helpers import (
    PEER,
    PEER_KEY,
    PEER_KID,
    REQUESTER,
    context,
    embedded,
    federated,
    local_outcomes,
    local_report,
    peer_answer,
    remote_outcomes,
    request,
)
from verifier.cli.assess_records import read_records
from verifier.domain.report import (
    EmbeddedFragmentError,
    build_report,
    envelope_sha256_matches,
    fragment_members,
    fragments_of,
    progress_of,
    summary_of,
)
from verifier.signing.fragments import sign_fragment
from verifier.signing.jcs import canonical_bytes

GOLDEN = Path(__file__).parent / "golden" / "report_local_v1.json"


def test_a_local_report_is_byte_for_byte_the_report_built_before_fragments() -> None:
    # The golden file was written by build_report before it knew about fragments.
    assert canonical_bytes(local_report()) + b"\n" == GOLDEN.read_bytes()


def test_fragments_given_but_named_by_no_outcome_are_not_embedded() -> None:
    stray = embedded(sign_fragment(peer_answer(), PEER_KEY))
    doc = build_report(context(), request(), local_outcomes(), fragments=[stray])
    assert canonical_bytes(doc) + b"\n" == GOLDEN.read_bytes()


def test_a_remote_source_names_the_peer_and_its_fragment() -> None:
    doc, fragment = federated()
    by_member = {(s["member_index"], s["source"]): s for s in doc["sources"]}
    for source in ("household_registration", "tax"):
        local, remote = by_member[(0, source)], by_member[(1, source)]
        assert "deployment" not in local and "fragment_sha256" not in local
        assert remote["deployment"] == PEER
        assert remote["fragment_sha256"] == fragment.envelope_sha256
    assert by_member[(1, "tax")]["record_count"] == 1


def test_a_remote_record_keeps_its_provenance_and_names_the_peer() -> None:
    doc, _ = federated()
    [local_tax, remote_tax] = [r for r in doc["records"] if r["type"] == "income"]
    assert "deployment" not in local_tax["provenance"]
    assert remote_tax["member_index"] == 1
    assert remote_tax["provenance"] == {
        "source": "tax",
        "adapter": "tax-linzi",
        "adapter_version": "1.0",
        "record_id": "T-9",
        "as_of": "2026-01-10T00:00:00Z",
        "deployment": PEER,
    }
    # The assessment's totals count the peer's answer like any other.
    assert doc["totals"]["by_member"][1]["income_fen"] == 800_000


def test_the_fragment_is_embedded_whole_with_its_provenance() -> None:
    doc, fragment = federated()
    [entry] = doc["fragments"]
    assert entry == {
        "peer": PEER,
        "key_id": PEER_KID,
        "envelope_sha256": fragment.envelope_sha256,
        "release_seq": 42,
        # The check's index of the 协查's member 0 (the spouse).
        "members": [1],
        "envelope": base64.b64encode(fragment.envelope).decode(),
    }
    assert fragment_members(doc) == [(1,)]


def test_a_report_embedding_fragments_names_its_own_deployment() -> None:
    doc, _ = federated()
    assert doc["deployment"] == REQUESTER
    # A report made here alone says nothing of it (the golden test holds it byte for byte).
    assert "deployment" not in local_report()
    stray = embedded(sign_fragment(peer_answer(), PEER_KEY))
    assert "deployment" not in build_report(
        context(), request(), local_outcomes(), fragments=[stray]
    )


def test_a_fragment_of_two_members_maps_them_in_the_asks_order() -> None:
    answer = peer_answer()
    fragment = embedded(sign_fragment(answer, PEER_KEY))
    # The 协查 asked about members 0 and 1 (routing names them in the check's order).
    outcomes = [
        replace(o, member_index=m)
        for m in (1, 0)
        for o in remote_outcomes(fragment, answer)
        if o.member_index == 1
    ]
    doc = build_report(context(), request(), outcomes, fragments=[fragment])
    assert fragment_members(doc) == [(0, 1)]


def test_fragment_members_must_be_integers() -> None:
    doc, _ = federated()
    [entry] = doc["fragments"]
    for members in (None, "1", [True], ["1"]):
        bad = doc | {"fragments": [entry | {"members": members}]}
        with pytest.raises(EmbeddedFragmentError, match=re.escape("fragments[0].members")):
            fragment_members(bad)


def test_fragments_read_back_hash_to_the_sha256_the_report_names() -> None:
    doc, fragment = federated()
    # Through the signed form: canonical JSON and back.
    [back] = fragments_of(json.loads(canonical_bytes(doc)))
    assert back == fragment
    assert hashlib.sha256(back.envelope).hexdigest() == back.envelope_sha256
    assert envelope_sha256_matches(back)
    assert not envelope_sha256_matches(replace(back, envelope=back.envelope + b" "))


def test_fragments_are_sorted_by_envelope_sha256_and_kept_once() -> None:
    answers = [peer_answer(), replace(peer_answer(), requester_request_id="ask-2")]
    frags = [embedded(sign_fragment(a, PEER_KEY)) for a in answers]
    outcomes = remote_outcomes(frags[0], answers[0])
    # The spouse's tax answer from the second 协查 (a later answer).
    outcomes = [
        replace(o, fragment_sha256=frags[1].envelope_sha256) if o.source.value == "tax" and
        o.member_index == 1 else o
        for o in outcomes
    ]  # fmt: skip
    doc = build_report(context(), request(), outcomes, fragments=[*frags, frags[0]])
    shas = [f["envelope_sha256"] for f in doc["fragments"]]
    assert shas == sorted(f.envelope_sha256 for f in frags)


def test_a_report_without_fragments_reads_back_none() -> None:
    assert fragments_of(local_report()) == []


@pytest.mark.parametrize(
    ("entry", "place"),
    [
        ("not an object", "fragments[0] must be an object"),
        ({"key_id": "k", "envelope_sha256": "0", "release_seq": 1, "envelope": ""}, "fragments[0].peer"),
        ({"peer": "p", "key_id": "k", "envelope_sha256": "0", "release_seq": "1",
          "envelope": ""}, "fragments[0].release_seq"),
        ({"peer": "p", "key_id": "k", "envelope_sha256": "0", "release_seq": 1,
          "envelope": "not base64!"}, "fragments[0].envelope"),
    ],
)  # fmt: skip
def test_a_malformed_fragment_entry_is_named_by_its_place(entry: object, place: str) -> None:
    with pytest.raises(EmbeddedFragmentError, match=re.escape(place)):
        fragments_of({"fragments": [entry]})


def test_the_summary_says_which_deployment_answered_and_nothing_personal() -> None:
    doc, _ = federated()
    summary = summary_of(doc)
    remote = [s for s in summary["sources"] if s.get("deployment") == PEER]
    assert {(s["member_index"], s["source"]) for s in remote} == {
        (1, "household_registration"),
        (1, "tax"),
    }
    text = json.dumps(summary, ensure_ascii=False)
    assert "*" not in text and "测" not in text
    assert [p.member_index for p in progress_of(summary)] == [0, 0, 1, 1]
    assert all("deployment" not in s for s in summary_of(local_report())["sources"])


def test_a_federated_report_is_a_records_file_for_policy_assess(tmp_path: Path) -> None:
    # "A report document is itself a valid records file": also with a peer's answers.
    doc, _ = federated()
    path = tmp_path / "report.json"
    path.write_bytes(canonical_bytes(doc))
    outcomes = {(o.member_index, o.source.value): o for o in read_records(path, request())}
    [wages] = outcomes[(1, "tax")].records
    assert isinstance(wages, IncomeRecord) and wages.amount_fen == 800_000
    assert outcomes[(1, "household_registration")].status.value == "NOT_FOUND"
