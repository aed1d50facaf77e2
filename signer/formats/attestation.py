"""In-toto attestations: predicate types and the v1 statement (layer L2, pure).

``--type`` takes cosign's short names (cosign ``cmd/cosign/cli/options/predicate.go``,
whose URIs come from in-toto-golang and cosign's ``pkg/cosign/attestation``) or any
absolute URI. :func:`attestation_statement` builds the in-toto v1 statement an
attestation signs: the subjects, the predicate type and the predicate, as
``@actions/attest`` assembles it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from signer.digest import parse_digest
from signer.errors import InputError, UsageError
from signer.formats.bundle_write import STATEMENT_TYPE

SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
CYCLONEDX = "https://cyclonedx.org/bom"
IN_TOTO_LINK_V1 = "https://in-toto.io/Link/v1"
COSIGN_CUSTOM = "https://cosign.sigstore.dev/attestation/v1"
COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
OPENVEX = "https://openvex.dev/ns"

#: cosign's ``--type`` short names and the predicate type URI each stands for
PREDICATE_TYPES: Mapping[str, str] = {
    "custom": COSIGN_CUSTOM,
    "slsaprovenance": SLSA_PROVENANCE_V02,
    "slsaprovenance02": SLSA_PROVENANCE_V02,
    "slsaprovenance1": SLSA_PROVENANCE_V1,
    "spdx": SPDX,
    "spdxjson": SPDX,
    "cyclonedx": CYCLONEDX,
    "link": IN_TOTO_LINK_V1,
    "vuln": COSIGN_VULN,
    "openvex": OPENVEX,
}
#: a predicate larger than this is refused before signing (actions/attest allows 16 MiB)
MAX_PREDICATE_BYTES = 16 * 1024 * 1024


def predicate_type_uri(value: str) -> str:
    """The predicate type URI ``--type VALUE`` names: a short name or an absolute URI.

    As cosign, a value that is no short name must parse as an absolute URI (a scheme
    and a host or path); anything else is a usage error naming the short names.
    """
    text = value.strip()
    known = PREDICATE_TYPES.get(text)
    if known is not None:
        return known
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or parts.path) or any(c.isspace() for c in text):
        raise UsageError(f"invalid predicate type {value[:200]!r}",
                         hint="use a URI or one of " + ", ".join(PREDICATE_TYPES))
    return text


@dataclass(frozen=True)
class Subject:
    """One in-toto subject: a name and its digest (``sha256:<hex>``)."""

    name: str
    digest: str

    def to_json(self) -> dict[str, Any]:
        """The subject as the statement holds it (``{"name", "digest": {alg: hex}}``)."""
        parsed = parse_digest(self.digest)
        return {"name": self.name, "digest": {parsed.algorithm: parsed.hex}}


def parse_predicate(data: bytes, source: str) -> Any:
    """The JSON predicate in ``data`` (read from ``source``); refuses what is not JSON."""
    if len(data) > MAX_PREDICATE_BYTES:
        raise InputError(f"the predicate {source} is over {MAX_PREDICATE_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError(f"the predicate {source} is not JSON",
                         hint="an attestation's predicate is a JSON document") from None


def attestation_statement(subjects: Sequence[Subject], predicate_type: str,
                          predicate: Any) -> bytes:
    """The in-toto v1 statement over ``subjects``: compact UTF-8 JSON, the bytes to sign."""
    if not subjects:
        raise InputError("an attestation needs at least one subject")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [subject.to_json() for subject in subjects],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(statement, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def statement_subject_digest(data: bytes, source: str) -> str:
    """The first SHA-256 subject digest (``sha256:<hex>``) of the in-toto v1 statement
    in ``data`` (read from ``source``), to sign as it is; refuses anything else."""
    if len(data) > MAX_PREDICATE_BYTES:
        raise InputError(f"the statement {source} is over {MAX_PREDICATE_BYTES} bytes")
    hint = (f"give an in-toto statement: {{\"_type\": \"{STATEMENT_TYPE}\", \"subject\": "
            "[{\"digest\": {\"sha256\": ...}}], \"predicateType\": ..., \"predicate\": ...}")
    try:
        statement = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError(f"the statement {source} is not JSON", hint=hint) from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise InputError(f"the statement {source} is not an in-toto v1 statement", hint=hint)
    if not isinstance(statement.get("predicateType"), str):
        raise InputError(f"the statement {source} has no predicateType", hint=hint)
    subjects = statement.get("subject")
    for subject in subjects if isinstance(subjects, list) else ():
        digests = subject.get("digest") if isinstance(subject, dict) else None
        value = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(value, str):
            return str(parse_digest(f"sha256:{value}"))
    raise InputError(f"the statement {source} has no subject with a sha256 digest", hint=hint)
