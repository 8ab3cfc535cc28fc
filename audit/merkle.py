"""RFC 6962 / RFC 9162 Merkle tree math over leaf hashes.

Everything here works on *leaf hashes* (``SHA-256(0x00 || data)``, computed by
the caller) and returns raw 32-byte SHA-256 digests. Interior nodes are
``SHA-256(0x01 || left || right)`` and the empty tree's root is ``SHA-256("")``.

Proofs are generated either from a list of leaf hashes or from a callable
``node_hash(start, end)`` returning ``MTH(D[start:end])``, so a store that keeps
perfect-subtree hashes can serve proofs without loading every leaf. The only
ranges ever asked of ``node_hash`` start at a multiple of the largest power of
two not greater than their length (see :func:`subtree_decomposition`).

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency)
and raises :class:`ProofError` on any failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeHash",
    "ProofError",
    "TreeBuilder",
    "consistency_proof",
    "consistency_proof_from",
    "hash_children",
    "inclusion_proof",
    "inclusion_proof_from",
    "root",
    "subtree_decomposition",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash handled here (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) — the root of the tree with no leaves (RFC 9162 §2.1.1)."""

NodeHash = Callable[[int, int], bytes]
"""``node_hash(start, end)`` returns ``MTH(D[start:end])`` for ``start < end``."""

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A Merkle proof, or the claim it is checked against, does not verify."""


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else None
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {size!r} ({type(value).__name__})")


def _check_hashes(values: Sequence[bytes], what: str) -> None:
    # map() keeps the common all-valid case at C speed for million-leaf lists.
    if set(map(type, values)) <= {bytes} and set(map(len, values)) <= {HASH_SIZE}:
        return
    for i, value in enumerate(values):
        _check_hash(value, f"{what} {i}")


def _check_size(value: int, what: str) -> None:
    # bool is an int subclass; a True tree size is always a caller bug.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative int, got {value!r}")


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962's split: the largest power of two strictly less than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash MTH(D[n]) of ``leaf_hashes``.

    Level by level, pairing neighbours from the left and carrying an unpaired
    last node up unchanged: this builds exactly RFC 6962's left-heavy tree
    without recursion, so a million leaves cost about a million SHA-256 calls.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    _check_hashes(leaf_hashes, "leaf hash")
    level = list(leaf_hashes)
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [
            sha(prefix + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if odd is not None:
            level.append(odd)
    return level[0]


def subtree_decomposition(start: int, end: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into the perfect subtrees whose hashes make up its MTH.

    Returns ``(level, index)`` pairs, largest first, naming the aligned perfect
    subtree ``[index << level, (index + 1) << level)``. Folding their hashes from
    the right, ``h = hash_children(p, h)``, gives ``MTH(D[start:end])``. Valid
    only when ``start`` is a multiple of the largest piece — true for every
    range a proof generator asks for — otherwise ``ValueError``.
    """
    _check_size(start, "start")
    if end <= start:
        raise ValueError(f"empty or reversed range [{start}, {end})")
    n = end - start
    top = n.bit_length() - 1
    if start & ((1 << top) - 1):
        raise ValueError(f"range [{start}, {end}) is not aligned to perfect subtrees")
    pieces: list[tuple[int, int]] = []
    pos = start
    for level in range(top, -1, -1):
        if n >> level & 1:
            pieces.append((level, pos >> level))
            pos += 1 << level
    return pieces


class TreeBuilder:
    """Append-only Merkle tree kept as its frontier of perfect subtree roots.

    State is O(log n): one hash per set bit of the size. Appending costs one
    hash plus one per trailing 1-bit of the old size (amortised two), and the
    root at the current size costs popcount(size) - 1 hashes. Used to append
    to the log and to re-verify a whole log streamed from storage in one pass.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        """Start an empty tree."""
        self._size = 0
        # Roots of the perfect subtrees, largest (leftmost) first; their sizes
        # are the set bits of _size from high to low.
        self._frontier: list[bytes] = []

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """Resume a tree from a saved :attr:`size` and :attr:`frontier`."""
        _check_size(size, "size")
        if len(frontier) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(frontier)}"
            )
        _check_hashes(frontier, "frontier hash")
        tree = cls()
        tree._size = size
        tree._frontier = list(frontier)
        return tree

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Perfect subtree roots, largest first; with :attr:`size` it is the whole state."""
        return tuple(self._frontier)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash."""
        _check_hash(leaf_hash, "leaf hash")
        h = leaf_hash
        n = self._size
        frontier = self._frontier
        # Binary-counter carry: each trailing 1-bit of the old size is a
        # perfect subtree of equal height that now merges with the new one.
        while n & 1:
            h = _sha256(_NODE_PREFIX + frontier.pop() + h).digest()
            n >>= 1
        frontier.append(h)
        self._size += 1

    def append_nodes(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash and return the perfect subtrees it completed.

        Each item is ``(level, index, hash)`` for the subtree covering leaves
        ``[index << level, (index + 1) << level)``, leaf first (level 0). A
        store that saves these can answer any ``node_hash`` a proof needs via
        :func:`subtree_decomposition` without reading leaves.
        """
        _check_hash(leaf_hash, "leaf hash")
        index = self._size
        h = leaf_hash
        n = index
        level = 0
        frontier = self._frontier
        nodes = [(0, index, h)]
        while n & 1:
            h = _sha256(_NODE_PREFIX + frontier.pop() + h).digest()
            n >>= 1
            level += 1
            nodes.append((level, index >> level, h))
        frontier.append(h)
        self._size += 1
        return nodes

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes in order."""
        append = self.append
        for leaf in leaf_hashes:
            append(leaf)

    def root(self) -> bytes:
        """Return MTH of the leaves appended so far."""
        frontier = self._frontier
        if not frontier:
            return EMPTY_ROOT
        h = frontier[-1]
        for left in reversed(frontier[:-1]):
            h = _sha256(_NODE_PREFIX + left + h).digest()
        return h

    def copy(self) -> TreeBuilder:
        """Return an independent builder with the same state."""
        return TreeBuilder.from_frontier(self._size, self._frontier)


class MemoryTree:
    """Every perfect subtree hash of a tree, held in memory.

    Serves :meth:`node_hash` in O(log n) for any tree size up to :attr:`size`,
    so proofs for old and new sizes come cheaply. Meant for tests, tools and
    in-memory fakes of a database-backed store; it needs about 2n hashes of RAM.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Build from leaf hashes (may be empty)."""
        leaves = list(leaf_hashes)
        _check_hashes(leaves, "leaf hash")
        self._levels: list[list[bytes]] = [leaves]
        self._rebuild_from(0)

    def _rebuild_from(self, first_leaf: int) -> None:
        """Recompute perfect subtrees that include any leaf at or after ``first_leaf``."""
        sha = _sha256
        prefix = _NODE_PREFIX
        levels = self._levels
        level = 0
        pos = first_leaf
        while len(levels[level]) > 1:
            below = levels[level]
            if level + 1 == len(levels):
                levels.append([])
            above = levels[level + 1]
            start = pos >> 1
            del above[start:]
            # zip stops at the shorter slice, dropping an unpaired last node:
            # only perfect subtrees are kept.
            above.extend(
                [
                    sha(prefix + a + b).digest()
                    for a, b in zip(below[2 * start :: 2], below[2 * start + 1 :: 2], strict=False)
                ]
            )
            pos = start
            level += 1

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes, updating only the subtrees they touch."""
        new = list(leaf_hashes)
        _check_hashes(new, "leaf hash")
        first = self.size
        self._levels[0].extend(new)
        self._rebuild_from(first)

    def leaf_hash(self, index: int) -> bytes:
        """Return the leaf hash at ``index``."""
        return self._levels[0][index]

    def node_hash(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]); fast for aligned ranges, from leaves otherwise."""
        _check_size(start, "start")
        if not start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) outside a tree of size {self.size}")
        try:
            pieces = subtree_decomposition(start, end)
        except ValueError:
            return root(self._levels[0][start:end])
        levels = self._levels
        level, index = pieces[-1]
        h = levels[level][index]
        for level, index in reversed(pieces[:-1]):
            h = _sha256(_NODE_PREFIX + levels[level][index] + h).digest()
        return h

    def root(self, size: int | None = None) -> bytes:
        """Return the root at ``size`` (default: the current size)."""
        n = self.size if size is None else size
        _check_size(n, "size")
        if n > self.size:
            raise ValueError(f"size {n} exceeds the tree's {self.size} leaves")
        return EMPTY_ROOT if n == 0 else self.node_hash(0, n)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf ``index`` in the tree of ``tree_size``."""
        n = self.size if tree_size is None else tree_size
        if n > self.size:
            raise ValueError(f"tree size {n} exceeds the tree's {self.size} leaves")
        return inclusion_proof_from(self.node_hash, index, n)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``old_size`` to ``new_size``."""
        n = self.size if new_size is None else new_size
        if n > self.size:
            raise ValueError(f"new size {n} exceeds the tree's {self.size} leaves")
        return consistency_proof_from(self.node_hash, old_size, n)


# --- proof generation -------------------------------------------------------


def inclusion_proof_from(node_hash: NodeHash, index: int, tree_size: int) -> list[bytes]:
    """Return PATH(index, D[tree_size]) (RFC 6962 §2.1.1) using ``node_hash``.

    Walks the RFC's recursion from the root down, asking ``node_hash`` once
    per level for the sibling subtree; the proof lists them leaf-side first.
    """
    _check_size(index, "index")
    _check_size(tree_size, "tree size")
    if index >= tree_size:
        raise ValueError(f"index {index} is outside a tree of size {tree_size}")
    siblings: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        mid = start + k
        if index < mid:
            siblings.append(node_hash(mid, end))
            end = mid
        else:
            siblings.append(node_hash(start, mid))
            start = mid
    siblings.reverse()
    return siblings


def consistency_proof_from(node_hash: NodeHash, old_size: int, new_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) (RFC 6962 §2.1.2) using ``node_hash``.

    Empty when ``old_size`` is 0 or equals ``new_size``: nothing needs proving.
    """
    _check_size(old_size, "old size")
    _check_size(new_size, "new size")
    if old_size > new_size:
        raise ValueError(f"old size {old_size} is greater than new size {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    # SUBPROOF(m, D[start:end], b) unrolled: m is relative to start, and
    # `whole` is b — whether the old tree's root is already known to the
    # verifier and so can be left out.
    m, start, end, whole = old_size, 0, new_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            proof.append(node_hash(start + k, end))
            end = start + k
        else:
            proof.append(node_hash(start, start + k))
            m -= k
            start += k
            whole = False
    if not whole:
        proof.append(node_hash(start, end))
    proof.reverse()
    return proof


def _list_node_hash(leaf_hashes: Sequence[bytes], size: int, what: str) -> NodeHash:
    _check_size(size, what)
    if size > len(leaf_hashes):
        raise ValueError(f"{what} {size} exceeds the {len(leaf_hashes)} leaf hashes given")

    def node_hash(start: int, end: int) -> bytes:
        return root(leaf_hashes[start:end])

    return node_hash


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Return PATH(index, D[tree_size]) over the first ``tree_size`` of ``leaf_hashes``.

    Costs O(tree_size) hashing; for repeated proofs on large trees use
    :class:`MemoryTree` or :func:`inclusion_proof_from` with stored nodes.
    """
    return inclusion_proof_from(
        _list_node_hash(leaf_hashes, tree_size, "tree size"), index, tree_size
    )


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) over the first ``new_size`` of ``leaf_hashes``."""
    return consistency_proof_from(
        _list_node_hash(leaf_hashes, new_size, "new size"), old_size, new_size
    )


# --- verification -----------------------------------------------------------


def _inclusion_shape(index: int, size: int) -> tuple[int, int]:
    """(inner, border) lengths of the proof for ``index`` in a tree of ``size``.

    ``inner`` hashes sit below the point where the leaf's path leaves the
    tree's right edge; ``border`` hashes are left siblings along that edge.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _check_proof(proof: Sequence[bytes]) -> None:
    _check_hashes(proof, "proof element")


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root_hash``.

    RFC 9162 §2.1.3.2. Returns None on success and raises :class:`ProofError`
    for any mismatch, including a bad index or size and a proof with missing
    or extra elements. A root hash does not commit to its tree size, so take
    ``tree_size`` and ``root_hash`` from the same signed checkpoint.
    """
    for value, what in ((index, "index"), (tree_size, "tree size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProofError(f"{what} must be a non-negative int, got {value!r}")
    if index >= tree_size:
        raise ProofError(f"index {index} is outside a tree of size {tree_size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root_hash, "root hash")
    _check_proof(proof)
    inner, border = _inclusion_shape(index, tree_size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for index {index} in a tree of size {tree_size} must have "
            f"{inner + border} hashes, got {len(proof)}"
        )
    # The length check above already rules out the sn conditions below; they
    # stay so the loop is RFC 9162's algorithm verbatim and safe on its own.
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != root_hash:
        raise ProofError(
            f"inclusion proof for index {index} in a tree of size {tree_size} "
            "does not lead to the given root hash"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size``/``new_root`` extends ``old_size``/``old_root``.

    RFC 9162 §2.1.4.2, plus the cases the RFC leaves out: equal sizes need an
    empty proof and equal roots; an old size of 0 needs an empty proof and
    the empty-tree root. Raises :class:`ProofError` on any failure.
    """
    for value, what in ((old_size, "old size"), (new_size, "new size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProofError(f"{what} must be a non-negative int, got {value!r}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is greater than new size {new_size}")
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    _check_proof(proof)
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError(
                f"consistency proof from size {old_size} to {new_size} must be empty, "
                f"got {len(proof)} hashes"
            )
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("old root hash is not the empty tree's root for size 0")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"different root hashes for the same tree size {old_size}")
        return

    # The old root is the proof's seed hash when the old tree is a perfect
    # subtree on the new tree's left edge; otherwise the proof carries it.
    inner, border = _inclusion_shape(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    seeded = old_size == 1 << shift
    expected = inner + border + (0 if seeded else 1)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} must have "
            f"{expected} hashes, got {len(proof)}"
        )

    path = [old_root, *proof] if seeded else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != old_root:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} does not lead to the old root"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} does not lead to the new root"
        )
