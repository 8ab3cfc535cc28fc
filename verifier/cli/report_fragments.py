"""``hedui report verify --peer-jwks NAME=PATH``: the peers' fragments a report embeds
(异地协查) checked offline with each peer's JWKS.

Each embedded fragment must hash to the SHA-256 the report names, carry a signature by the
key id the report names that verifies against that peer's JWKS, name that peer as its
author and the report's own deployment as its requester, be answered under the report's
授权书 for the ask this check made (its request id derived again from the report's
verification id, the peer, and the report's members the embedding maps the fragment's
members to, whose masked ID numbers must match), and every member × source it answers
must be in exactly one source entry of the report, naming the fragment and agreeing with
it (status, adapter, reason, as_of and the records themselves); no other entry may name
it. The peer's release audit seq is the requester's record, not signed by the peer: it
is printed as a note, never as verified. Lines name peers, key ids, hashes, member
indices and sources only: never a member's ID number, name or a record's content.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from hedui_sdk import SourceKind
from verifier.domain.federation_routing import RemoteAsk
from verifier.domain.fragment import (
    FRAGMENT_PAYLOAD_TYPE,
    EmbeddedFragment,
    FragmentAnswer,
    FragmentError,
    FragmentRefusal,
    answer_from_body,
)
from verifier.domain.identifiers import ACTOR_SYSTEM
from verifier.domain.outcomes import SourceOutcome
from verifier.domain.report import (
    EmbeddedFragmentError,
    envelope_sha256_matches,
    fragment_members,
    fragments_of,
    record_json,
)
from verifier.domain.timestamps import rfc3339
from verifier.service.federation.requester import ask_request_id
from verifier.signing.dsse import EnvelopeError, verify_envelope
from verifier.signing.jwks import JwksError, PublicKey, algorithm, parse_jwks

FLAG = "--peer-jwks"
_ALGORITHMS = {"ed25519": "Ed25519", "sm2": "SM2"}


def peer_jwks_arg(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` → (name, path); argparse reports anything else as a usage error."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"{FLAG} takes NAME=PATH (a peer's name and its JWKS)")
    return name.strip(), Path(path.strip())


def add_peer_jwks(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--peer-jwks NAME=PATH`` option."""
    parser.add_argument(
        FLAG,
        dest="peer_jwks",
        action="append",
        default=[],
        type=peer_jwks_arg,
        metavar="NAME=PATH",
        help="a peer's JWKS, to check the fragments it answered that the report embeds "
        "(repeat for each peer)",
    )


@dataclass
class FragmentCheck:
    """What checking a report's fragments found: a line per fragment verified, a line per
    problem (verification fails when there is any)."""

    verified: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the report says that no signature covers (the peers' audit seqs)."""


_WORD = re.compile(r"[A-Za-z0-9_]{1,40}", re.ASCII)


def _word(value: object) -> str:
    """A status, source or index as the line may show it: a report's own vocabulary only
    (anything else, which could be text a person wrote, shows as ``?``)."""
    text = str(value)
    return text if _WORD.fullmatch(text) else "?"


def _place(s: Mapping[str, Any]) -> str:
    return f"source entry member {_word(s.get('member_index'))} {_word(s.get('source'))}"


def _short(hex_text: str) -> str:
    return f"{hex_text[:16]}…"


def key_label(key: PublicKey, key_id: str) -> str:
    """``Ed25519 key 1a2b…``: a signing key as a verification line names it."""
    return f"{_ALGORITHMS[algorithm(key)]} key {_short(key_id)}"


def _asked(body: Mapping[str, Any]) -> set[tuple[int, SourceKind]]:
    """The member × source pairs the body answers, as far as they read; a malformed entry
    is refused by :func:`answer_from_body` itself."""
    pairs: set[tuple[int, SourceKind]] = set()
    items = body.get("sources")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("member"), int):
            try:
                pairs.add((item["member"], SourceKind(str(item.get("source")))))
            except ValueError:
                continue
    return pairs


Pair = tuple[int, str]
"""A report member index and a source kind's value."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """A report's source entry with the records the report lists for it."""

    fields: Mapping[str, Any]
    records: list[Any]


def _entries(doc: Mapping[str, Any]) -> tuple[dict[Pair, list[_Entry]], list[str]]:
    """The report's source entries by member × source, each with its records: a report
    lists the records of its entries in the entries' order, ``record_count`` apiece."""
    sources, records = doc.get("sources"), doc.get("records")
    if not isinstance(sources, list) or not isinstance(records, list):
        return {}, ["the report's sources and records must be lists"]
    by_pair: dict[Pair, list[_Entry]] = {}
    at = 0
    for s in sources:
        count = s.get("record_count") if isinstance(s, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return {}, ["a source entry of the report has no record count"]
        entry = _Entry(s, records[at : at + count])
        at += count
        by_pair.setdefault((s.get("member_index"), str(s.get("source"))), []).append(entry)
    if at != len(records):
        return {}, ["the report's records do not add up to its source entries' record counts"]
    return by_pair, []


def _members_map(
    doc: Mapping[str, Any], members: Sequence[int], answer: FragmentAnswer, where: str
) -> list[str]:
    """Problems with the report's mapping of the fragment's members to its own: one
    distinct report member per fragment member, with the same masked ID number."""
    masked = [
        m.get("id_number_masked") if isinstance(m, dict) else None for m in doc.get("members", [])
    ]
    if len(members) != len(answer.members) or len(set(members)) != len(members):
        return [f"{where}: the report maps {len(members)} members to its {len(answer.members)}"]
    return [
        f"{where}: its member {k} is not the report's member {_word(m)}"
        for k, m in enumerate(members)
        if not 0 <= m < len(masked) or masked[m] != answer.members[k]
    ]


def _entry_problems(
    entry: _Entry, o: SourceOutcome, member: int, peer: str, place: str
) -> list[str]:
    """How one source entry (and its records) differs from the fragment's answer for it."""
    s = entry.fields
    if (s.get("status"), s.get("record_count")) != (o.status.value, len(o.records)):
        return [
            f"{place} says {_word(s.get('status'))} with {_word(s.get('record_count'))}"
            f" records, the fragment {o.status.value} with {len(o.records)}"
        ]
    want = {
        "adapter": o.adapter,
        "adapter_version": o.adapter_version,
        "reason": o.reason,
        "as_of": rfc3339(o.as_of) if o.as_of else None,
    }
    problems = [f"{place}: its {k} is not the fragment's" for k, v in want.items() if s.get(k) != v]
    # The records as the report lays out a peer's: amounts, kinds, provenance and all.
    if entry.records != [record_json(member, r, peer) for r in o.records]:
        problems.append(f"{place}: its records are not the fragment's")
    return problems


def _entries_agree(
    by_pair: Mapping[Pair, Sequence[_Entry]],
    fragment: EmbeddedFragment,
    members: Sequence[int],
    answer: FragmentAnswer,
    where: str,
) -> tuple[int, list[str]]:
    """How many source entries hold the fragment's answers, and the problems: every
    member × source it answers is in exactly one entry of the report, which names the
    fragment and its peer and agrees with it (status, adapter, reason, as_of, records);
    no other entry names the fragment."""
    problems: list[str] = []
    answered: set[Pair] = set()
    for o in answer.outcomes:
        pair = (members[o.member_index], o.source.value)
        answered.add(pair)
        place = f"{where}: source entry member {pair[0]} {pair[1]}"
        entries = by_pair.get(pair, [])
        if len(entries) != 1:
            problems.append(f"{place} is answered in the fragment, in {len(entries)} entries")
            continue
        [entry] = entries
        named = entry.fields.get("fragment_sha256") == fragment.envelope_sha256
        if not named or entry.fields.get("deployment") != fragment.peer:
            problems.append(f"{place} is answered in the fragment but does not name it")
            continue
        problems += _entry_problems(entry, o, pair[0], fragment.peer, place)
    for pair, entries in by_pair.items():
        for entry in entries:
            if entry.fields.get("fragment_sha256") == fragment.envelope_sha256 and (
                pair not in answered
            ):
                problems.append(f"{where}: {_place(entry.fields)} is not answered in the fragment")
    return len(answered), problems


def _request_id(
    doc: Mapping[str, Any],
    peer: str,
    members: Sequence[int],
    asked: set[tuple[int, SourceKind]],
) -> str:
    """The request id this report's check asked ``peer`` under, derived as the
    requester derives it (from the check, the peer, the ask's members and sources)."""
    kinds = tuple(sorted({kind for _, kind in asked}, key=lambda k: k.value))
    return ask_request_id(str(doc.get("verification_id")), RemoteAsk(peer, tuple(members), kinds))


def _check_one(
    doc: Mapping[str, Any],
    f: EmbeddedFragment,
    members: Sequence[int],
    key: PublicKey,
    by_pair: Mapping[Pair, Sequence[_Entry]],
    where: str,
) -> tuple[int, list[str]]:
    """One fragment verified with ``key`` and held against the report: it answers this
    report's deployment, under its 授权书, the members the report maps it to, in the ask
    this check made (its request id derived again), as the report's entries say."""
    try:
        body = verify_envelope(
            f.envelope, {f.key_id: key}, payload_type=FRAGMENT_PAYLOAD_TYPE
        ).document
        asked = _asked(body)
        answer = answer_from_body(
            body,
            peer=f.peer,
            requester=str(doc.get("deployment")),
            request_id=str(body.get("requester_request_id")),
            asked=asked,
        )
    except EnvelopeError as exc:
        return 0, [f"{where}: not signed by key {_short(f.key_id)}: {exc}"]
    except FragmentError as exc:
        return 0, [f"{where}: {exc.reason.value}: {exc}"]
    if answer.authorization_number != doc.get("authorization_id"):
        return 0, [f"{where}: answered under another 授权书 than the report's"]
    problems = _members_map(doc, members, answer, where)
    if problems:
        return 0, problems
    if answer.requester_request_id != _request_id(doc, f.peer, members, asked):
        replayed = FragmentRefusal.REPLAYED.value
        return 0, [f"{where}: {replayed}: it answers another ask than this check's"]
    return _entries_agree(by_pair, f, members, answer, where)


def check_fragments(
    doc: Mapping[str, Any], peer_keys: Mapping[str, Mapping[str, PublicKey]]
) -> FragmentCheck:
    """Check every fragment ``doc`` embeds against its peer's keys (``peer`` → JWKS)."""
    out = FragmentCheck()
    try:
        fragments = fragments_of(doc)
        asked_members = fragment_members(doc)
    except EmbeddedFragmentError as exc:
        out.problems.append(str(exc))
        return out
    deployment = doc.get("deployment")
    if fragments and (not isinstance(deployment, str) or ACTOR_SYSTEM.problem(deployment)):
        out.problems.append(
            "the report does not name its own deployment, which the fragments must answer"
        )
        return out
    by_pair, out.problems = _entries(doc)
    if out.problems:
        return out
    embedded = {f.envelope_sha256 for f in fragments}
    for i, f in enumerate(fragments):
        where = f"fragment {i} from peer {f.peer}"
        if not envelope_sha256_matches(f):
            out.problems.append(f"{where}: the envelope does not hash to its envelope_sha256")
            continue
        keys = peer_keys.get(f.peer)
        if keys is None:
            out.problems.append(f"{where}: no JWKS given for it (pass {FLAG} {f.peer}=PATH)")
            continue
        key = keys.get(f.key_id)
        if key is None:
            out.problems.append(f"{where}: key {_short(f.key_id)} is not in the peer's JWKS")
            continue
        count, problems = _check_one(doc, f, asked_members[i], key, by_pair, where)
        out.problems.extend(problems)
        if not problems:
            out.verified.append(
                f"fragment from peer {f.peer} to {deployment}: signed by"
                f" {key_label(key, f.key_id)}, envelope SHA-256"
                f" {_short(f.envelope_sha256)}; {count} source entries agree with it"
            )
            # Not in what the peer signed: this deployment's record of the peer's audit seq.
            out.notes.append(
                f"fragment from peer {f.peer}: release audit seq {f.release_seq} is as"
                " this deployment recorded it; the peer does not sign it (only the peer's"
                " receipt for that entry proves it)"
            )
    for s in doc.get("sources", []):
        sha = s.get("fragment_sha256") if isinstance(s, dict) else None
        if sha and sha not in embedded:
            out.problems.append(
                f"{_place(s)} names fragment {_short(_word(sha))}, which the report does not embed"
            )
    return out


def load_peer_keys(specs: Sequence[tuple[str, Path]]) -> dict[str, dict[str, PublicKey]]:
    """``--peer-jwks`` values read: peer → its keys (JwksError or OSError when one
    cannot be read)."""
    return {name: parse_jwks(path.read_bytes()) for name, path in specs}


def has_fragments(doc: Mapping[str, Any]) -> bool:
    """Whether the report embeds any fragment or names one from a source entry."""
    return bool(doc.get("fragments")) or any(
        isinstance(s, dict) and s.get("fragment_sha256") for s in doc.get("sources", [])
    )


def verify_embedded(
    doc: Mapping[str, Any], specs: Sequence[tuple[str, Path]], out: Console, err: Console
) -> int:
    """Check a verified report's fragments and say so: 0 when every one verifies (or the
    report has none), 1 otherwise. A report made here alone prints nothing more."""
    if not has_fragments(doc):
        if specs:
            out.print("no peer fragments embedded: nothing to check with --peer-jwks")
        return 0
    try:
        peer_keys = load_peer_keys(specs)
    except (JwksError, OSError) as exc:
        why = escape(str(exc))
        err.print(f"[red]FRAGMENTS NOT VERIFIED[/]: a {FLAG} file cannot be read: {why}")
        return 1
    found = check_fragments(doc, peer_keys)
    for line in found.verified:
        out.print(f"[green]FRAGMENT VERIFIED[/]: {escape(line)}")
    for line in found.notes:
        out.print(f"note: {escape(line)}")
    for line in found.problems:
        err.print(f"[red]FRAGMENT NOT VERIFIED[/]: {escape(line)}")
    return 1 if found.problems else 0
