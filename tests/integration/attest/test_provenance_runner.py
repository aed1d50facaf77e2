"""SLSA provenance made inside an emulated GitHub Actions job.

The job is laid out by the runner emulator (:func:`signer.testing.runner.github_job`):
its ``GITHUB_*`` variables and the ``id-token: write`` endpoint of the local stack,
which hands out tokens with the run's claims. The token is fetched through that
endpoint as in a real job; every field of the provenance is compared with the job
the emulator describes, and the statement is checked by the in-toto project's v1
Statement and SLSA v1 Provenance bindings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signer.formats.attestation import SLSA_PROVENANCE_V1, Subject, attestation_statement
from signer.formats.provenance import WorkflowRun, slsa_provenance
from signer.oidc import resolve_identity_token
from signer.testing.runner import Job, github_job
from signer.testing.stack import Stack
from tests.integration.action.test_action_identity import token_claims
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401
from tests.unit.attest.test_provenance import validate_slsa_v1, validate_v1_statement

REPOSITORY = "octo-org/octo-repo"
#: the run: a release of a tag, second attempt, on a self-hosted runner, its job
#: running a reusable workflow of another repository
RUN = {
    "repository": REPOSITORY, "repository_id": "654321", "repository_owner_id": "123456",
    "ref": "refs/tags/v3.1.0", "sha": "0123456789abcdef0123456789abcdef01234567",
    "event_name": "release", "runner_environment": "self-hosted",
    "workflow_ref": f"{REPOSITORY}/.github/workflows/release.yml@refs/tags/v3.1.0",
    "job_workflow_ref": "octo-org/shared/.github/workflows/build.yml@refs/heads/main",
    "run_id": "777000111", "run_attempt": "2",
}
#: what the runner sets for the same run (GitHub's default environment variables)
RUNNER_ENV = {
    "GITHUB_ACTIONS": "true", "GITHUB_REF": RUN["ref"], "GITHUB_SHA": RUN["sha"],
    "GITHUB_EVENT_NAME": RUN["event_name"], "GITHUB_REPOSITORY_ID": RUN["repository_id"],
    "GITHUB_REPOSITORY_OWNER_ID": RUN["repository_owner_id"],
    "RUNNER_ENVIRONMENT": RUN["runner_environment"], "GITHUB_WORKFLOW_REF": RUN["workflow_ref"],
    "GITHUB_RUN_ID": RUN["run_id"], "GITHUB_RUN_ATTEMPT": RUN["run_attempt"],
}


def assert_provenance_of_run(predicate: dict[str, Any], server: str) -> None:
    """Every field of ``predicate`` names :data:`RUN` on ``server``, as
    actions/attest-build-provenance would; the SLSA v1 proto accepts it."""
    validate_slsa_v1(predicate)
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == "https://actions.github.io/buildtypes/workflow/v1"
    assert definition["externalParameters"]["workflow"] == {
        "ref": RUN["ref"], "repository": f"{server}/{REPOSITORY}",
        "path": ".github/workflows/release.yml"}
    assert definition["internalParameters"]["github"] == {
        "event_name": RUN["event_name"], "repository_id": RUN["repository_id"],
        "repository_owner_id": RUN["repository_owner_id"],
        "runner_environment": RUN["runner_environment"]}
    assert definition["resolvedDependencies"] == [{
        "uri": f"git+{server}/{REPOSITORY}@{RUN['ref']}", "digest": {"gitCommit": RUN["sha"]}}]
    assert predicate["runDetails"] == {
        "builder": {"id": f"{server}/{RUN['job_workflow_ref']}"},
        "metadata": {"invocationId": f"{server}/{REPOSITORY}/actions/runs/{RUN['run_id']}"
                                     f"/attempts/{RUN['run_attempt']}"}}


@pytest.fixture
def job(tmp_path: Path, sigstore_stack: Stack) -> Job:  # noqa: F811
    return github_job(tmp_path / "job", repository=REPOSITORY, github_token="ghs_unused",
                      id_token_endpoint=(sigstore_stack.token_request_url,
                                         sigstore_stack.token_request_token),
                      extra_env=RUNNER_ENV)


def test_provenance_from_the_jobs_token_names_the_emulated_run(
        job: Job, sigstore_stack: Stack) -> None:  # noqa: F811
    with token_claims(sigstore_stack, RUN):
        token = resolve_identity_token(env=job.env)
    assert token.source == "GitHub Actions"
    server = job.env["GITHUB_SERVER_URL"]
    run = WorkflowRun.from_token_claims(token.claims, server)
    predicate = slsa_provenance(run)
    assert_provenance_of_run(predicate, server)
    statement = attestation_statement(
        [Subject("ghcr.io/octo-org/app", "sha256:" + "c" * 64)], SLSA_PROVENANCE_V1, predicate)
    validate_v1_statement(statement)
    validate_slsa_v1(json.loads(statement)["predicate"])


def test_the_runner_environment_gives_the_same_provenance_but_the_builder(job: Job) -> None:
    from_env = slsa_provenance(WorkflowRun.from_environment(job.env))
    with_token = slsa_provenance(WorkflowRun.from_token_claims(RUN, job.env["GITHUB_SERVER_URL"]))
    assert from_env["buildDefinition"] == with_token["buildDefinition"]
    assert from_env["runDetails"]["metadata"] == with_token["runDetails"]["metadata"]
    # the environment has no job_workflow_ref: the caller's workflow stands in for it
    assert from_env["runDetails"]["builder"]["id"] == (
        f"{job.env['GITHUB_SERVER_URL']}/{RUN['workflow_ref']}")
