"""``hedui report verify --peer-jwks NAME=PATH``: the peers' fragments a report embeds
(异地协查) checked offline with each peer's JWKS.

Each embedded fragment must hash to the SHA-256 the report names, carry a signature by the
key id the report names that verifies against that peer's JWKS, name that peer as its
author and the same requesting deployment as every other fragment, and agree with every
source entry of the report that names it (status and record count). Lines name peers,
key ids, hashes, member indices and sources only: never a member's ID number or name.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from hedui_sdk import SourceKind
from verifier.domain.fragment import FRAGMENT_PAYLOAD_TYPE, FragmentError, answer_from_body
from verifier.domain.report import EmbeddedFragmentError, fragments_of
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


def _entries_agree(
    doc: Mapping[str, Any],
    peer: str,
    sha: str,
    members: Sequence[str],
    answered: Mapping[tuple[int, str], tuple[str, int]],
    where: str,
) -> tuple[int, list[str]]:
    """How many of the report's source entries name this fragment, and the problems: an
    entry must agree in status and record count with the fragment's answer for the same
    member (found by masked ID number: the 协查 numbers members its own way) and source."""
    masked = {
        m.get("index"): m.get("id_number_masked")
        for m in doc.get("members", [])
        if isinstance(m, dict)
    }
    count, problems = 0, []
    for s in doc.get("sources", []):
        if not isinstance(s, dict) or s.get("fragment_sha256") != sha:
            continue
        count += 1
        place = _place(s)
        if s.get("deployment") != peer:
            problems.append(f"{where}: {place} names the fragment but not peer {peer}")
            continue
        candidates = [
            answered[(i, str(s.get("source")))]
            for i, m in enumerate(members)
            if m == masked.get(s.get("member_index")) and (i, str(s.get("source"))) in answered
        ]
        if not candidates:
            problems.append(f"{where}: {place} is not answered in the fragment")
        elif (s.get("status"), s.get("record_count")) not in candidates:
            status, records = candidates[0]
            problems.append(
                f"{where}: {place} says {_word(s.get('status'))} with"
                f" {_word(s.get('record_count'))} records,"
                f" the fragment {status} with {records}"
            )
    return count, problems


def check_fragments(
    doc: Mapping[str, Any], peer_keys: Mapping[str, Mapping[str, PublicKey]]
) -> FragmentCheck:
    """Check every fragment ``doc`` embeds against its peer's keys (``peer`` → JWKS)."""
    out = FragmentCheck()
    try:
        fragments = fragments_of(doc)
    except EmbeddedFragmentError as exc:
        out.problems.append(str(exc))
        return out
    requesters: set[str] = set()
    embedded = {f.envelope_sha256 for f in fragments}
    for i, f in enumerate(fragments):
        where = f"fragment {i} from peer {f.peer}"
        if hashlib.sha256(f.envelope).hexdigest() != f.envelope_sha256:
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
        try:
            verified = verify_envelope(
                f.envelope, {f.key_id: key}, payload_type=FRAGMENT_PAYLOAD_TYPE
            )
            body = verified.document
            requester = body.get("requester")
            answer = answer_from_body(
                body,
                peer=f.peer,
                requester=requester if isinstance(requester, str) else "",
                request_id=str(body.get("requester_request_id")),
                asked=_asked(body),
            )
        except EnvelopeError as exc:
            out.problems.append(f"{where}: not signed by key {_short(f.key_id)}: {exc}")
            continue
        except FragmentError as exc:
            out.problems.append(f"{where}: {exc.reason.value}: {exc}")
            continue
        requesters.add(answer.requester)
        answered = {
            (o.member_index, o.source.value): (o.status.value, len(o.records))
            for o in answer.outcomes
        }
        count, problems = _entries_agree(
            doc, f.peer, f.envelope_sha256, answer.members, answered, where
        )
        out.problems.extend(problems)
        if not problems:
            out.verified.append(
                f"fragment from peer {f.peer} to {answer.requester}: signed by"
                f" {_ALGORITHMS[algorithm(key)]} key {_short(f.key_id)}, envelope SHA-256"
                f" {_short(f.envelope_sha256)}, the peer's release audit seq {f.release_seq};"
                f" {count} source entries agree with it"
            )
    if len(requesters) > 1:
        out.problems.append("the fragments name different requesting deployments")
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
    for line in found.problems:
        err.print(f"[red]FRAGMENT NOT VERIFIED[/]: {escape(line)}")
    return 1 if found.problems else 0
