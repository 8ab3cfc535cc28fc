"""Tests for audit.merkle, after google/trillian's merkle tests.

An independent, deliberately naive implementation of RFC 6962's recursive
definitions (MTH, PATH, SUBPROOF) is the oracle; the fast code under test must
agree with it everywhere, every generated proof must verify, and no mutated
proof may verify.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    TreeBuilder,
    consistency_proof,
    consistency_proof_from,
    hash_children,
    inclusion_proof,
    inclusion_proof_from,
    root,
    subtree_decomposition,
    verify_consistency,
    verify_inclusion,
)

# --- the independent reference: RFC 6962 §2.1 read literally ----------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1), found the slow way."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class RefTree:
    """MTH/PATH/PROOF over raw entries, straight from the RFC's recursion.

    Works on the entries themselves (hashing leaves with 0x00 here), so the
    leaf hashes handed to the code under test are computed independently.
    MTH of a range is memoised only to keep the exhaustive tests fast.
    """

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.entries = tuple(entries)

    @functools.cache  # noqa: B019 - a handful of module-lifetime trees
    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return _sha(b"")
        if n == 1:
            return _sha(b"\x00" + self.entries[start])
        k = _split(n)
        return _sha(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end))

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = _split(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return [] if old == 0 else self.subproof(old, 0, new, True)

    def root(self, size: int) -> bytes:
        return self.mth(0, size)


def _entries(n: int, salt: bytes = b"") -> list[bytes]:
    return [salt + i.to_bytes(8, "big") for i in range(n)]


def _leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + e).digest() for e in entries]


SMALL_N = 520
SMALL_ENTRIES = _entries(SMALL_N, b"hedui-small")
SMALL_LEAVES = _leaf_hashes(SMALL_ENTRIES)
REF = RefTree(SMALL_ENTRIES)
SMALL_TREE = MemoryTree(SMALL_LEAVES)


# --- known answers: the certificate-transparency reference test vectors ----

CT_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): CT_INCLUSION[(0, 8)],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def _hexes(hs: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hs]


def test_known_answer_roots() -> None:
    leaves = _leaf_hashes(CT_ENTRIES)
    builder = TreeBuilder()
    assert builder.root().hex() == CT_ROOTS[0]
    for n in range(len(leaves) + 1):
        assert root(leaves[:n]).hex() == CT_ROOTS[n]
        assert RefTree(CT_ENTRIES).root(n).hex() == CT_ROOTS[n]
        if n:
            builder.append(leaves[n - 1])
        assert builder.root().hex() == CT_ROOTS[n]


def test_known_answer_proofs() -> None:
    leaves = _leaf_hashes(CT_ENTRIES)
    for (index, size), want in CT_INCLUSION.items():
        proof = inclusion_proof(leaves, index, size)
        assert _hexes(proof) == want
        verify_inclusion(leaves[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))
    for (old, new), want in CT_CONSISTENCY.items():
        proof = consistency_proof(leaves, old, new)
        assert _hexes(proof) == want
        verify_consistency(
            old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), proof
        )


def test_empty_tree() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    assert TreeBuilder().root() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert hash_children(b"a", b"b") == _sha(b"\x01ab")


# --- agreement with the reference -------------------------------------------


def test_root_and_builder_match_reference_at_every_size() -> None:
    builder = TreeBuilder()
    for n in range(SMALL_N + 1):
        want = REF.root(n)
        assert root(SMALL_LEAVES[:n]) == want, n
        assert builder.size == n
        assert builder.root() == want, n
        assert SMALL_TREE.root(n) == want, n
        assert len(builder.frontier) == n.bit_count()
        if n < SMALL_N:
            builder.append(SMALL_LEAVES[n])


def test_builder_resumes_from_saved_state() -> None:
    builder = TreeBuilder()
    builder.extend(SMALL_LEAVES[:300])
    resumed = TreeBuilder.from_frontier(builder.size, builder.frontier)
    forked = builder.copy()
    resumed.extend(SMALL_LEAVES[300:])
    builder.append(SMALL_LEAVES[300])
    assert resumed.root() == REF.root(SMALL_N)
    assert builder.root() == REF.root(301)
    assert forked.root() == REF.root(300)
    with pytest.raises(ValueError, match="frontier hashes"):
        TreeBuilder.from_frontier(7, builder.frontier[:2])
    with pytest.raises(ValueError, match="32 bytes"):
        TreeBuilder.from_frontier(1, [b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        builder.append(b"\x00" * 33)


def test_builder_append_nodes_serve_proofs_like_a_store() -> None:
    stored: dict[tuple[int, int], bytes] = {}
    builder = TreeBuilder()
    for leaf in SMALL_LEAVES[:300]:
        for level, index, h in builder.append_nodes(leaf):
            assert (level, index) not in stored
            stored[(level, index)] = h

    def node_hash(start: int, end: int) -> bytes:
        pieces = subtree_decomposition(start, end)
        h = stored[pieces[-1]]
        for piece in reversed(pieces[:-1]):
            h = hash_children(stored[piece], h)
        return h

    assert len(stored) == 2 * 300 - (300).bit_count()
    assert builder.root() == node_hash(0, 300) == REF.root(300)
    for size in (1, 2, 3, 127, 128, 129, 300):
        for index in range(0, size, 7):
            assert inclusion_proof_from(node_hash, index, size) == REF.inclusion(index, size)
        for old in range(0, size + 1, 5):
            assert consistency_proof_from(node_hash, old, size) == REF.consistency(old, size)


def test_memory_tree_grows_incrementally() -> None:
    tree = MemoryTree(SMALL_LEAVES[:1])
    for n in (2, 3, 5, 8, 9, 64, 65, 200, SMALL_N):
        tree.extend(SMALL_LEAVES[tree.size : n])
        assert tree.size == n
        assert tree.root() == REF.root(n)
        assert tree.node_hash(n // 2, n) == REF.mth(n // 2, n)
    assert tree.leaf_hash(5) == SMALL_LEAVES[5]
    with pytest.raises(ValueError, match="outside"):
        tree.node_hash(0, SMALL_N + 1)
    with pytest.raises(ValueError, match="exceeds"):
        tree.root(SMALL_N + 1)


def test_subtree_decomposition() -> None:
    assert subtree_decomposition(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert subtree_decomposition(8, 12) == [(2, 2)]
    with pytest.raises(ValueError, match="not aligned"):
        subtree_decomposition(3, 7)
    with pytest.raises(ValueError, match="empty"):
        subtree_decomposition(4, 4)


def test_every_inclusion_proof_up_to_256_leaves() -> None:
    for size in range(1, 257):
        r = REF.root(size)
        for index in range(size):
            proof = SMALL_TREE.inclusion_proof(index, size)
            assert proof == REF.inclusion(index, size), (index, size)
            verify_inclusion(SMALL_LEAVES[index], index, size, proof, r)


def test_every_consistency_proof_up_to_64_leaves() -> None:
    for new in range(1, 65):
        for old in range(1, new + 1):
            proof = consistency_proof(SMALL_LEAVES, old, new)
            assert proof == REF.consistency(old, new), (old, new)
            assert proof == SMALL_TREE.consistency_proof(old, new)
            verify_consistency(old, new, REF.root(old), REF.root(new), proof)


def test_list_inclusion_proofs_match_reference() -> None:
    for size in range(1, 65):
        for index in range(size):
            assert inclusion_proof(SMALL_LEAVES, index, size) == REF.inclusion(index, size)


def test_consistency_from_empty_and_to_same_size() -> None:
    for n in (0, 1, 5, 64):
        verify_consistency(0, n, EMPTY_ROOT, REF.root(n), consistency_proof(SMALL_LEAVES, 0, n))
        verify_consistency(n, n, REF.root(n), REF.root(n), [])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 5, REF.root(1), REF.root(5), [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(5, 5, REF.root(5), REF.root(5), [REF.root(5)])
    with pytest.raises(ProofError, match="different root"):
        verify_consistency(5, 5, REF.root(4), REF.root(5), [])


# --- refusals -----------------------------------------------------------------


def test_generators_refuse_bad_ranges() -> None:
    for bad in ((5, 5), (6, 5), (-1, 5), (0, 0)):
        with pytest.raises(ValueError):  # noqa: PT011 - several messages
            inclusion_proof(SMALL_LEAVES, *bad)
    with pytest.raises(ValueError, match="greater than"):
        consistency_proof(SMALL_LEAVES, 6, 5)
    with pytest.raises(ValueError, match="exceeds"):
        consistency_proof(SMALL_LEAVES[:4], 1, 5)
    with pytest.raises(ValueError, match="exceeds"):
        SMALL_TREE.inclusion_proof(0, SMALL_N + 1)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof(SMALL_LEAVES, True, 5)
    with pytest.raises(ValueError, match="32 bytes"):
        root([b"x" * 31])


def test_verify_inclusion_refuses_bad_arguments() -> None:
    leaf, proof, r = SMALL_LEAVES[3], SMALL_TREE.inclusion_proof(3, 10), REF.root(10)
    verify_inclusion(leaf, 3, 10, proof, r)
    cases: list[tuple[tuple[bytes, int, int, list[bytes], bytes], str]] = [
        ((leaf, 10, 10, proof, r), "outside a tree"),
        ((leaf, 11, 10, proof, r), "outside a tree"),
        ((leaf, 0, 0, [], EMPTY_ROOT), "outside a tree"),
        ((leaf, -1, 10, proof, r), "non-negative"),
        ((leaf, 3, -10, proof, r), "non-negative"),
        ((leaf[:31], 3, 10, proof, r), "leaf hash must be 32 bytes"),
        ((leaf, 3, 10, proof, r + b"\x00"), "root hash must be 32 bytes"),
        ((leaf, 3, 10, [*proof[:-1], proof[-1][:16]], r), "proof element 3"),
        ((leaf, 3, 10, proof[:-1], r), "must have 4 hashes, got 3"),
        ((leaf, 3, 10, [*proof, r], r), "must have 4 hashes, got 5"),
        ((leaf, 3, 10, proof, REF.root(9)), "does not lead to the given root"),
    ]
    for args, message in cases:
        with pytest.raises(ProofError, match=message):
            verify_inclusion(*args)


def test_verify_consistency_refuses_bad_arguments() -> None:
    proof = SMALL_TREE.consistency_proof(6, 13)
    r6, r13 = REF.root(6), REF.root(13)
    verify_consistency(6, 13, r6, r13, proof)
    cases: list[tuple[tuple[int, int, bytes, bytes, list[bytes]], str]] = [
        ((13, 6, r13, r6, proof), "greater than"),
        ((-1, 13, r6, r13, proof), "non-negative"),
        ((6, 13, r13, r6, proof), "does not lead to the old root"),
        ((6, 13, r6, REF.root(14), proof), "does not lead to the new root"),
        ((6, 13, r6, r13, proof[1:]), "must have"),
        ((6, 13, r6, r13, [*proof, r6]), "must have"),
        ((6, 13, r6, r13, []), "must have"),
        ((6, 13, r6[:8], r13, proof), "old root hash must be 32 bytes"),
    ]
    for args, message in cases:
        with pytest.raises(ProofError, match=message):
            verify_consistency(*args)


def test_proof_error_is_a_value_error() -> None:
    assert issubclass(ProofError, ValueError)


# --- property: no mutated proof is accepted ---------------------------------

MAX_PROP = 256  # claims use sizes up to 2 * MAX_PROP <= SMALL_N


@dataclass(frozen=True)
class InclusionClaim:
    leaf: bytes
    index: int
    size: int
    proof: tuple[bytes, ...]
    root: bytes


@dataclass(frozen=True)
class ConsistencyClaim:
    old: int
    new: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def _mutate_list(draw: st.DrawFn, proof: tuple[bytes, ...], kind: str) -> tuple[bytes, ...] | None:
    """Mutate a proof's elements; None when the kind does not apply to it."""
    if kind == "flip" and proof:
        j = draw(st.integers(0, len(proof) - 1))
        bit = draw(st.integers(0, 255))
        return (*proof[:j], _flip(proof[j], bit), *proof[j + 1 :])
    if kind == "drop" and proof:
        j = draw(st.integers(0, len(proof) - 1))
        return proof[:j] + proof[j + 1 :]
    if kind == "add":
        j = draw(st.integers(0, len(proof)))
        extra = draw(st.sampled_from([*proof, EMPTY_ROOT, *SMALL_LEAVES[:4]]))
        return (*proof[:j], extra, *proof[j:])
    if kind == "swap" and len(proof) >= 2:
        i = draw(st.integers(0, len(proof) - 2))
        j = draw(st.integers(i + 1, len(proof) - 1))
        if proof[i] == proof[j]:
            return None
        swapped = list(proof)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        return tuple(swapped)
    return None


@st.composite
def mutated_inclusion(draw: st.DrawFn) -> tuple[InclusionClaim, InclusionClaim]:
    size = draw(st.integers(1, MAX_PROP))
    index = draw(st.integers(0, size - 1))
    good = InclusionClaim(
        SMALL_LEAVES[index], index, size, tuple(REF.inclusion(index, size)), REF.root(size)
    )
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "drop",
                "add",
                "swap",
                "index",
                "index_leaf",
                "index_oob",
                "size",
                "leaf",
                "root",
                "other_proof",
            ]
        )
    )
    proof = _mutate_list(draw, good.proof, kind)
    if proof is not None:
        bad = InclusionClaim(good.leaf, index, size, proof, good.root)
    elif kind in ("index", "index_leaf") and size > 1:
        other = draw(st.integers(0, size - 1).filter(lambda i: i != index))
        leaf = SMALL_LEAVES[other] if kind == "index_leaf" else good.leaf
        bad = InclusionClaim(leaf, other, size, good.proof, good.root)
    elif kind == "index_oob":
        bad = InclusionClaim(good.leaf, size + draw(st.integers(0, 5)), size, good.proof, good.root)
    elif kind == "size":
        other = draw(st.integers(1, 2 * MAX_PROP).filter(lambda n: n != size))
        bad = InclusionClaim(good.leaf, index, other, good.proof, REF.root(other))
    elif kind == "leaf":
        bad = InclusionClaim(
            _flip(good.leaf, draw(st.integers(0, 255))), index, size, good.proof, good.root
        )
    elif kind == "root":
        bad = InclusionClaim(
            good.leaf, index, size, good.proof, _flip(good.root, draw(st.integers(0, 255)))
        )
    else:
        other = draw(st.integers(0, size - 1))
        bad = InclusionClaim(good.leaf, index, size, tuple(REF.inclusion(other, size)), good.root)
    return good, bad


@st.composite
def mutated_consistency(draw: st.DrawFn) -> tuple[ConsistencyClaim, ConsistencyClaim]:
    new = draw(st.integers(1, MAX_PROP))
    old = draw(st.integers(0, new))
    good = ConsistencyClaim(
        old, new, REF.root(old), REF.root(new), tuple(REF.consistency(old, new))
    )
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "drop",
                "add",
                "swap",
                "old",
                "new",
                "old_gt_new",
                "swap_roots",
                "old_root",
                "new_root",
            ]
        )
    )
    proof = _mutate_list(draw, good.proof, kind)
    if proof is not None:
        bad = ConsistencyClaim(old, new, good.old_root, good.new_root, proof)
    elif kind == "old":
        other = draw(st.integers(0, new).filter(lambda m: m != old))
        bad = ConsistencyClaim(other, new, REF.root(other), good.new_root, good.proof)
    elif kind == "new":
        other = draw(st.integers(max(old, 1), 2 * MAX_PROP).filter(lambda n: n != new))
        bad = ConsistencyClaim(old, other, good.old_root, REF.root(other), good.proof)
    elif kind == "old_gt_new":
        bad = ConsistencyClaim(
            new + draw(st.integers(1, 5)), new, good.old_root, good.new_root, good.proof
        )
    elif kind == "swap_roots":
        bad = ConsistencyClaim(old, new, good.new_root, good.old_root, good.proof)
    elif kind == "old_root":
        bad = ConsistencyClaim(
            old, new, _flip(good.old_root, draw(st.integers(0, 255))), good.new_root, good.proof
        )
    else:
        bad = ConsistencyClaim(
            old, new, good.old_root, _flip(good.new_root, draw(st.integers(0, 255))), good.proof
        )
    return good, bad


def _genuine_inclusion(c: InclusionClaim) -> bool:
    return (
        0 <= c.index < c.size <= SMALL_N
        and c.leaf == SMALL_LEAVES[c.index]
        and c.root == REF.root(c.size)
        and list(c.proof) == REF.inclusion(c.index, c.size)
    )


def _genuine_consistency(c: ConsistencyClaim) -> bool:
    if c.old == 0:
        # Every tree extends the empty tree: with nothing to prove, the new
        # root is not checked, so no mutation of it counts as a forgery.
        return c.new >= 0 and c.old_root == EMPTY_ROOT and not c.proof
    return (
        0 <= c.old <= c.new <= SMALL_N
        and c.old_root == REF.root(c.old)
        and c.new_root == REF.root(c.new)
        and list(c.proof) == REF.consistency(c.old, c.new)
    )


_PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(mutated_inclusion())
def test_no_mutated_inclusion_proof_is_accepted(
    pair: tuple[InclusionClaim, InclusionClaim],
) -> None:
    good, bad = pair
    verify_inclusion(good.leaf, good.index, good.size, list(good.proof), good.root)
    # A mutation can land back on a true claim (another index's proof drawn
    # for the same index); hypothesis fails the test if that happens so often
    # that too few real mutations are left.
    assume(not _genuine_inclusion(bad))
    with pytest.raises(ProofError):
        verify_inclusion(bad.leaf, bad.index, bad.size, list(bad.proof), bad.root)


@_PROPERTY
@given(mutated_consistency())
def test_no_mutated_consistency_proof_is_accepted(
    pair: tuple[ConsistencyClaim, ConsistencyClaim],
) -> None:
    good, bad = pair
    verify_consistency(good.old, good.new, good.old_root, good.new_root, list(good.proof))
    assume(not _genuine_consistency(bad))
    with pytest.raises(ProofError):
        verify_consistency(bad.old, bad.new, bad.old_root, bad.new_root, list(bad.proof))


# --- a million leaves ---------------------------------------------------------

BIG_N = 1_000_000
_rng = random.Random(6962)
BIG_SIZES = sorted(
    {2**k + d for k in (0, 1, 2, 3, 8, 16, 19) for d in (-1, 0, 1) if 2**k + d > 0}
    | {777_777, 999_999, BIG_N}
    | {_rng.randint(1, BIG_N) for _ in range(20)}
)


@dataclass(frozen=True)
class BigTree:
    leaves: list[bytes]
    tree: MemoryTree
    roots: dict[int, bytes]  # from a TreeBuilder streamed once over all leaves


@functools.cache
def big_tree() -> BigTree:
    """Build the million-leaf tree once for the whole module."""
    # Any 32-byte strings serve as leaf hashes; slicing one random blob is
    # much faster than hashing a million entries.
    blob = random.Random(1_000_000).randbytes(32 * BIG_N)
    leaves = [blob[i : i + 32] for i in range(0, len(blob), 32)]
    wanted = set(BIG_SIZES)
    roots: dict[int, bytes] = {}
    builder = TreeBuilder()
    append = builder.append
    for n, leaf in enumerate(leaves, start=1):
        append(leaf)
        if n in wanted:
            roots[n] = builder.root()
    return BigTree(leaves, MemoryTree(leaves), roots)


def test_big_tree_roots_agree() -> None:
    big = big_tree()
    assert root(big.leaves) == big.roots[BIG_N] == big.tree.root()
    for n in BIG_SIZES:
        assert big.tree.root(n) == big.roots[n]


_BIG = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_BIG
@given(size=st.sampled_from(BIG_SIZES), where=st.floats(0, 1, exclude_max=True))
def test_big_tree_inclusion(size: int, where: float) -> None:
    big = big_tree()
    index = int(where * size)
    proof = inclusion_proof_from(big.tree.node_hash, index, size)
    verify_inclusion(big.leaves[index], index, size, proof, big.roots[size])
    with pytest.raises(ProofError):
        verify_inclusion(big.leaves[index ^ 1], index, size, proof, big.roots[size])


@_BIG
@given(pair=st.lists(st.sampled_from(BIG_SIZES), min_size=2, max_size=2, unique=True))
def test_big_tree_consistency(pair: list[int]) -> None:
    big = big_tree()
    old, new = sorted(pair)
    proof = consistency_proof_from(big.tree.node_hash, old, new)
    verify_consistency(old, new, big.roots[old], big.roots[new], proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, big.roots[new], big.roots[old], proof)


def test_node_hash_callable_is_the_only_data_source() -> None:
    """Proofs from a bare callable need only O(log n) node lookups."""
    big = big_tree()
    calls: list[tuple[int, int]] = []

    def counting(start: int, end: int) -> bytes:
        calls.append((start, end))
        return big.tree.node_hash(start, end)

    node_hash: Callable[[int, int], bytes] = counting
    inclusion_proof_from(node_hash, 123_456, BIG_N)
    assert len(calls) == (BIG_N - 1).bit_length()
    calls.clear()
    consistency_proof_from(node_hash, 777_777, BIG_N)
    assert len(calls) <= 2 * (BIG_N - 1).bit_length()
