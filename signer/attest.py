"""What ``signer attest`` and ``attest-blob`` sign (layer L4): the in-toto statement.

An attestation is signed exactly as a cosign v3 image signature is
(:func:`signer.sign.sign_images` with ``SignOptions.attestation``): a DSSE envelope
logged, timestamped and stored as a bundle referrer of the image -- only the statement
differs: its subject names the image (or file) and its digest, its ``predicateType``
is the one asked for, and the referrer's ``dev.sigstore.bundle.predicateType``
annotation names it (as actions/attest's ``push-to-registry``).

With ``provenance`` the predicate is SLSA v1 build provenance of the GitHub Actions run
(:mod:`signer.formats.provenance`), built from the claims of the OIDC token the
certificate was issued for, or -- signing with a key, or with a token that is not a
GitHub Actions one -- from the runner's environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signer.formats.attestation import SLSA_PROVENANCE_V1, Subject, attestation_statement
from signer.formats.provenance import WorkflowRun, slsa_provenance
from signer.signing.identity import SignerIdentity


@dataclass(frozen=True)
class Attestation:
    """What to attest: a predicate of a type, or the run's SLSA provenance."""

    predicate_type: str = SLSA_PROVENANCE_V1
    predicate: Any = None
    provenance: bool = False
    #: the runner environment (``GITHUB_SERVER_URL``, and the run's facts when the token
    #: does not carry them)
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)

    def predicate_for(self, identity: SignerIdentity) -> Any:
        """The predicate to sign as ``identity``: the given one, or the provenance of the
        run that ``identity``'s token (else the environment) describes."""
        if not self.provenance:
            return self.predicate
        return slsa_provenance(workflow_run(identity, self.environment))

    def statement(self, subject: Subject, predicate: Any) -> bytes:
        """The statement over ``subject`` (the bytes the DSSE envelope carries)."""
        return attestation_statement([subject], self.predicate_type, predicate)


def workflow_run(identity: SignerIdentity, environment: Mapping[str, str]) -> WorkflowRun:
    """The GitHub Actions run the provenance describes: the token's claims when it is a
    GitHub Actions token (it names the job's workflow), else the environment."""
    claims = identity.token_claims
    if claims.get("job_workflow_ref") and claims.get("run_id"):
        return WorkflowRun.from_token_claims(claims, environment.get("GITHUB_SERVER_URL"))
    return WorkflowRun.from_environment(environment)
