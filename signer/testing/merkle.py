"""An RFC 6962 Merkle tree over leaf hashes: tree heads, inclusion and consistency proofs.

Server side only (proof *generation*, RFC 6962 §2.1). Hashes of complete subtrees
never change once the tree has grown past them, so they are cached.
"""

from __future__ import annotations

import hashlib
import threading


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class MerkleTree:
    """An append-only list of leaf hashes with RFC 6962 proofs for any past size."""

    def __init__(self, leaves: list[bytes] | None = None) -> None:
        self._leaves: list[bytes] = list(leaves or [])
        self._complete: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._leaves)

    def append(self, leaf: bytes) -> int:
        """Append one leaf *hash*; returns its index."""
        with self._lock:
            self._leaves.append(leaf)
            return len(self._leaves) - 1

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._leaves[index]

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first ``size`` leaves (default: all)."""
        n = self.size if size is None else size
        self._check_size(n)
        if n == 0:
            return EMPTY_ROOT
        return self._subtree(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree of ``size`` leaves, leaf to root."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} is outside a tree of size {n}")
        return self._path(index, 0, n)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 6962 §2.1.2 consistency proof between tree sizes ``first`` and ``second``."""
        n = self.size if second is None else second
        self._check_size(n)
        if not 0 <= first <= n:
            raise ValueError(f"first size {first} is not within 0..{n}")
        if first in (0, n):
            return []
        return self._subproof(first, 0, n, True)

    def subtree_root(self, start: int, size: int) -> bytes:
        """Root of the leaves ``start .. start+size-1`` (a tile hash when size is 2**k)."""
        if size < 1 or not 0 <= start <= self.size - size:
            raise ValueError(f"leaves {start}..{start + size - 1} are outside the tree")
        return self._subtree(start, size)

    # -- internals ------------------------------------------------------------------
    def _check_size(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} is outside 0..{self.size}")

    def _subtree(self, start: int, n: int) -> bytes:
        if n == 1:
            return self._leaves[start]
        complete = n & (n - 1) == 0
        if complete:
            cached = self._complete.get((start, n))
            if cached is not None:
                return cached
        k = _split_point(n)
        value = node_hash(self._subtree(start, k), self._subtree(start + k, n - k))
        if complete:
            self._complete[(start, n)] = value
        return value

    def _path(self, m: int, start: int, n: int) -> list[bytes]:
        if n == 1:
            return []
        k = _split_point(n)
        if m < k:
            return [*self._path(m, start, k), self._subtree(start + k, n - k)]
        return [*self._path(m - k, start + k, n - k), self._subtree(start, k)]

    def _subproof(self, m: int, start: int, n: int, whole: bool) -> list[bytes]:
        if m == n:
            return [] if whole else [self._subtree(start, n)]
        k = _split_point(n)
        if m <= k:
            return [*self._subproof(m, start, k, whole), self._subtree(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._subtree(start, k)]
