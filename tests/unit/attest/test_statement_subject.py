"""The subject digest of a ready in-toto statement (``attest-blob --statement``)."""

from __future__ import annotations

import json

import pytest

from signer.errors import InputError
from signer.formats.attestation import MAX_PREDICATE_BYTES, statement_subject_digest

HEX = "ab" * 32


def _statement(**fields: object) -> bytes:
    base: dict[str, object] = {"_type": "https://in-toto.io/Statement/v1",
                               "subject": [{"name": "a", "digest": {"sha256": HEX}}],
                               "predicateType": "https://example.com/p", "predicate": {}}
    base.update(fields)
    return json.dumps(base).encode()


def test_the_first_sha256_subject_is_taken() -> None:
    subjects = [{"name": "x", "digest": {"sha512": "cd" * 64}},
                {"name": "a", "digest": {"sha256": HEX}}, {"digest": {"sha256": "ef" * 32}}]
    assert statement_subject_digest(_statement(subject=subjects), "s") == f"sha256:{HEX}"


@pytest.mark.parametrize("data, message", [
    (b"{", "is not JSON"),
    (b"[]", "is not an in-toto v1 statement"),
    (_statement(_type="https://in-toto.io/Statement/v0.1"), "is not an in-toto v1 statement"),
    (_statement(predicateType=None), "has no predicateType"),
    (_statement(subject=[]), "has no subject with a sha256 digest"),
    (_statement(subject="a"), "has no subject with a sha256 digest"),
    (_statement(subject=[{"digest": {"sha256": "AB" * 32}}]), "invalid sha256 digest"),
    (b" " * (MAX_PREDICATE_BYTES + 1), "is over"),
])
def test_what_is_no_signable_statement_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        statement_subject_digest(data, "s.json")
