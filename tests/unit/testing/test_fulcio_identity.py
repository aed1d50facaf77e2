"""The local Fulcio's mapping of a reusable workflow's token (issue 13, item 5).

In a job that calls a reusable workflow, GitHub's token names the *caller* in
``repository``/``workflow_ref`` and the *called* workflow in ``job_workflow_ref``.
Fulcio's ``github-workflow`` template puts the called workflow in the SAN and the Build
Signer URI (1.9) and the caller in the Source Repository URI (1.12), the Build Config URI
(1.18) and the deprecated GitHub Workflow Repository (1.5).
"""

from __future__ import annotations

import time

from cryptography import x509

from signer.testing.fulcio_identity import FULCIO_ARC, IssuerConfig, leaf_profile
from signer.testing.oidc_server import default_github_claims
from signer.verify.certs import decode_der_utf8_string

ISSUER = "https://token.actions.githubusercontent.com"


def _profile(**overrides: str) -> tuple[str, dict[int, str]]:
    claims = {**default_github_claims(ISSUER, "sigstore", int(time.time())), **overrides}
    profile = leaf_profile(IssuerConfig(ISSUER, "github-workflow"), claims)
    assert isinstance(profile.san, x509.UniformResourceIdentifier)
    values: dict[int, str] = {}
    for oid, raw in profile.extensions:
        number = int(oid.removeprefix(FULCIO_ARC + "."))
        values[number] = raw.decode() if number <= 6 else decode_der_utf8_string(raw)
    return profile.san.value, values


def test_reusable_workflow_token_maps_caller_and_called_workflow_apart() -> None:
    san, ext = _profile(
        repository="evil-org/evil", repository_owner="evil-org",
        workflow_ref="evil-org/evil/.github/workflows/ci.yml@refs/heads/main",
        job_workflow_ref="octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1",
        job_workflow_sha="1" * 40, runner_environment="self-hosted", ref="refs/heads/dev")
    called = "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1"
    assert san == called
    assert ext[9] == called  # Build Signer URI: the workflow that ran the signing job
    assert ext[10] == "1" * 40  # Build Signer Digest: job_workflow_sha
    assert ext[12] == "https://github.com/evil-org/evil"  # Source Repository URI: caller
    assert ext[5] == "evil-org/evil"  # deprecated GitHub Workflow Repository: caller
    assert ext[16] == "https://github.com/evil-org"
    assert ext[18] == "https://github.com/evil-org/evil/.github/workflows/ci.yml@refs/heads/main"
    assert ext[11] == "self-hosted"  # Runner Environment
    assert ext[14] == ext[6] == "refs/heads/dev"  # Source Repository Ref / Workflow Ref


def test_plain_workflow_token_names_one_repository_throughout() -> None:
    san, ext = _profile()
    assert san == ext[9] == ext[18]
    assert ext[12] == "https://github.com/octo-org/octo-repo"
    assert ext[11] == "github-hosted"
