"""The server's RFC 6962 tree checked by an independent RFC 9162 verifier, sizes 1..300."""

from __future__ import annotations

import pytest

from signer.testing.merkle import EMPTY_ROOT, MerkleTree, leaf_hash
from tests.unit.testing.rfc6962_verifier import (
    hash_leaf,
    reference_root,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
LEAVES = [b"leaf-%d" % i for i in range(MAX_SIZE)]


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    t = MerkleTree()
    for data in LEAVES:
        t.append(leaf_hash(data))
    return t


def test_leaf_hash_matches_rfc() -> None:
    assert leaf_hash(b"x") == hash_leaf(b"x")
    assert MerkleTree().root() == EMPTY_ROOT == reference_root([])


def test_roots_match_the_rfc_definition_for_every_size(tree: MerkleTree) -> None:
    for size in range(1, MAX_SIZE + 1):
        assert tree.root(size) == reference_root(LEAVES[:size]), size


def test_every_inclusion_proof_verifies_for_sizes_1_to_300(tree: MerkleTree) -> None:
    checked = 0
    for size in range(1, MAX_SIZE + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(index, size, hash_leaf(LEAVES[index]), proof, root), (
                index,
                size,
            )
            checked += 1
    assert checked == MAX_SIZE * (MAX_SIZE + 1) // 2


def test_every_consistency_proof_verifies_for_sizes_1_to_300(tree: MerkleTree) -> None:
    checked = 0
    for second in range(1, MAX_SIZE + 1):
        second_root = tree.root(second)
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            assert verify_consistency(first, second, tree.root(first), second_root, proof), (
                first,
                second,
            )
            checked += 1
    assert checked == MAX_SIZE * (MAX_SIZE + 1) // 2


def test_wrong_proofs_are_rejected_by_the_verifier(tree: MerkleTree) -> None:
    # The verifier is not trivially true: a wrong index, root, leaf or proof fails.
    size, index = 77, 40
    root = tree.root(size)
    proof = tree.inclusion_proof(index, size)
    leaf = hash_leaf(LEAVES[index])
    assert verify_inclusion(index, size, leaf, proof, root)
    assert not verify_inclusion(index + 1, size, leaf, proof, root)
    assert not verify_inclusion(index, size, hash_leaf(b"other"), proof, root)
    assert not verify_inclusion(index, size, leaf, proof, tree.root(size - 1))
    assert not verify_inclusion(index, size, leaf, proof[:-1], root)
    bad = [*proof]
    bad[2] = bytes(32)
    assert not verify_inclusion(index, size, leaf, bad, root)
    consistency = tree.consistency_proof(30, size)
    assert verify_consistency(30, size, tree.root(30), root, consistency)
    assert not verify_consistency(31, size, tree.root(30), root, consistency)
    assert not verify_consistency(30, size, tree.root(29), root, consistency)
    assert not verify_consistency(30, size, tree.root(30), root, consistency[1:])


def test_out_of_range_requests_raise(tree: MerkleTree) -> None:
    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.root(MAX_SIZE + 1)
    with pytest.raises(ValueError):
        tree.consistency_proof(10, 9)
