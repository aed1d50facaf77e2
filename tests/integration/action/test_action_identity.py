"""The action's default "signed by this repository" policy (issue 13, item 5).

The default must check the certificate's Source Repository URI (Fulcio extension 1.12),
not its SAN, which names the *workflow file*: a reusable workflow of this repository
called from another repository must not pass, and this repository calling a shared
reusable workflow kept elsewhere must. Tokens come from the local stack's GitHub-style
endpoint with the claims GitHub puts in a reusable workflow's token (``repository`` is
the caller, ``job_workflow_ref`` the called workflow); the local Fulcio maps them to the
SAN and extensions as the real one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from signer.testing.runner import ActionRun
from signer.testing.stack import Stack
from tests.integration.action.conftest import (
    GITHUB_TOKEN,
    STACK_REPOSITORY,
    ActionHarness,
    assert_no_secrets,
    report_of,
)

pytestmark = pytest.mark.slow

SHARED_WORKFLOW = "octo-org/shared-workflows/.github/workflows/sign.yml@refs/heads/main"


def reusable_claims(caller: str, called: str, **extra: str) -> dict[str, str]:
    """The claims of a token for a job of ``caller`` running reusable workflow ``called``."""
    owner = caller.split("/")[0]
    return {
        "repository": caller, "repository_owner": owner,
        "sub": f"repo:{caller}:ref:refs/heads/main",
        "workflow_ref": f"{caller}/.github/workflows/ci.yml@refs/heads/main",
        "job_workflow_ref": called, **extra,
    }


@contextmanager
def token_claims(stack: Stack, claims: dict[str, str]) -> Iterator[None]:
    """Tokens from the runner endpoint carry ``claims`` inside the block."""
    stack.set_token_claims(**claims)
    try:
        yield
    finally:
        stack.set_token_claims()


def sign_as(action: ActionHarness, image: str, layout: Path, claims: dict[str, str]) -> None:
    with token_claims(action.stack, claims):
        run = action.run({"push-from": str(layout), "images": image,
                          "verify-after-sign": "false", **action.stack_inputs()},
                         repository=claims["repository"])
    assert run.succeeded, run.log


def verify_default(action: ActionHarness, image: str, repository: str = STACK_REPOSITORY,
                   **inputs: str) -> ActionRun:
    run = action.run({"mode": "verify", "images": image,
                      "trusted-root": str(action.stack.trusted_root_path),
                      "certificate-oidc-issuer": action.stack.oidc_issuer_url, **inputs},
                     repository=repository)
    assert "internal error" not in run.log
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])
    return run


def test_reusable_workflow_of_this_repository_called_elsewhere_is_refused(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", seed="identity-evil", tag="v1")
    image = f"{registry.host}/action-identity/evil:v1"
    # evil-org/evil calls octo-org/octo-repo's release workflow: the SAN names octo-repo
    sign_as(action, image, layout.path, reusable_claims(
        "evil-org/evil", f"{STACK_REPOSITORY}/.github/workflows/release.yml@refs/heads/main"))
    run = verify_default(action, image)
    assert run.exit_code == 12, run.log
    assert run.outputs["verified"] == "false"
    assert "source repository" in run.log
    # the repository that ran it is what "signed by this repository" recognises
    theirs = verify_default(action, image, repository="evil-org/evil")
    assert theirs.succeeded, theirs.log


def test_this_repository_using_a_shared_reusable_workflow_passes(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", seed="identity-shared", tag="v1")
    image = f"{registry.host}/action-identity/shared:v1"
    sign_as(action, image, layout.path, reusable_claims(STACK_REPOSITORY, SHARED_WORKFLOW))
    run = verify_default(action, image)
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"
    assert run.outputs["certificate-identity"] == "https://github.com/" + SHARED_WORKFLOW
    assert "(default)" in run.summary
    policy = report_of(run)["policy"]
    assert isinstance(policy, dict)
    assert policy["source_repository"] == f"https://github.com/{STACK_REPOSITORY}"
    assert policy["default"] is True


def test_claim_inputs_narrow_the_policy(action: ActionHarness, registry: LocalRegistry,
                                        tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", seed="identity-claims", tag="v1")
    image = f"{registry.host}/action-identity/claims:v1"
    sign_as(action, image, layout.path, reusable_claims(
        STACK_REPOSITORY, SHARED_WORKFLOW, runner_environment="self-hosted",
        ref="refs/tags/v1.2.3"))
    passing = {
        "signer-workflow": "octo-org/shared-workflows/.github/workflows/sign.yml",
        "source-ref": "refs/tags/v1.2.3",
        "certificate-github-workflow-repository": STACK_REPOSITORY,
        "certificate-github-workflow-ref": "refs/tags/v1.2.3",
        "certificate-github-workflow-trigger": "push",
    }
    for name, value in passing.items():
        run = verify_default(action, image, **{name: value})
        assert run.succeeded, (name, run.log)
    failing = {
        "signer-workflow": "octo-org/shared-workflows/.github/workflows/other.yml",
        "source-ref": "refs/heads/main",
        "source-repository": "octo-org/another-repo",
        "deny-self-hosted-runners": "true",
        "certificate-github-workflow-name": "Not the name",
        "certificate-github-workflow-sha": "0" * 40,
    }
    for name, value in failing.items():
        run = verify_default(action, image, **{name: value})
        assert run.exit_code == 12, (name, run.log)
        assert run.outputs["verified"] == "false"
