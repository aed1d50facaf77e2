"""SLSA v1 build provenance of a GitHub Actions workflow run (layer L2, pure).

The predicate ``actions/attest-build-provenance`` writes (``@actions/attest``'s
``buildSLSAProvenancePredicate``), field for field, so that a policy written for
GitHub's provenance applies to ours:

- ``buildDefinition.buildType``: ``https://actions.github.io/buildtypes/workflow/v1``;
- ``externalParameters.workflow``: ``ref``, ``repository`` (server URL + OWNER/REPO)
  and ``path`` (the workflow file, from ``workflow_ref``);
- ``internalParameters.github``: ``event_name``, ``repository_id``,
  ``repository_owner_id``, ``runner_environment``;
- ``resolvedDependencies``: ``git+<repository URL>@<ref>`` with its ``gitCommit``;
- ``runDetails.builder.id``: server URL + ``job_workflow_ref`` (the workflow file that
  ran the job, a reusable workflow's own when one was called);
- ``runDetails.metadata.invocationId``: the run's URL with its attempt.

The facts come from a :class:`WorkflowRun`: the GitHub OIDC token's claims (as
``@actions/attest`` reads them: the token is what Fulcio certifies, a step cannot
change it) or, without a token, the runner's ``GITHUB_*`` environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from signer.errors import InputError

BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
DEFAULT_SERVER_URL = "https://github.com"

#: WorkflowRun field -> the OIDC token claim it is read from
TOKEN_CLAIMS: Mapping[str, str] = {
    "repository": "repository",
    "ref": "ref",
    "sha": "sha",
    "event_name": "event_name",
    "repository_id": "repository_id",
    "repository_owner_id": "repository_owner_id",
    "runner_environment": "runner_environment",
    "workflow_ref": "workflow_ref",
    "job_workflow_ref": "job_workflow_ref",
    "run_id": "run_id",
    "run_attempt": "run_attempt",
}
#: WorkflowRun field -> the runner environment variable it is read from. The
#: environment has no job_workflow_ref: GITHUB_WORKFLOW_REF (the caller's workflow)
#: stands in for it, which differs only inside a reusable workflow.
ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "repository": "GITHUB_REPOSITORY",
    "ref": "GITHUB_REF",
    "sha": "GITHUB_SHA",
    "event_name": "GITHUB_EVENT_NAME",
    "repository_id": "GITHUB_REPOSITORY_ID",
    "repository_owner_id": "GITHUB_REPOSITORY_OWNER_ID",
    "runner_environment": "RUNNER_ENVIRONMENT",
    "workflow_ref": "GITHUB_WORKFLOW_REF",
    "job_workflow_ref": "GITHUB_WORKFLOW_REF",
    "run_id": "GITHUB_RUN_ID",
    "run_attempt": "GITHUB_RUN_ATTEMPT",
}


@dataclass(frozen=True)
class WorkflowRun:
    """The facts of one GitHub Actions job run that the provenance records."""

    server_url: str
    repository: str  # OWNER/REPO
    ref: str
    sha: str
    event_name: str
    repository_id: str
    repository_owner_id: str
    runner_environment: str
    workflow_ref: str  # OWNER/REPO/.github/workflows/FILE@REF
    job_workflow_ref: str
    run_id: str
    run_attempt: str
    #: where the facts came from ("the OIDC token" or "the runner environment")
    source: str = "the OIDC token"

    @classmethod
    def from_token_claims(cls, claims: Mapping[str, Any],
                          server_url: str | None = None) -> WorkflowRun:
        """The run a GitHub Actions OIDC token describes; ``server_url`` is
        ``GITHUB_SERVER_URL`` (github.com when not given)."""
        values = _required(claims, TOKEN_CLAIMS, "the OIDC token lacks the claims")
        return cls(server_url=_server_url(server_url), source="the OIDC token", **values)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> WorkflowRun:
        """The run described by the runner's ``GITHUB_*`` / ``RUNNER_*`` variables."""
        values = _required(env, ENVIRONMENT_VARIABLES,
                           "not in a GitHub Actions job: the environment lacks")
        return cls(server_url=_server_url(env.get("GITHUB_SERVER_URL")),
                   source="the runner environment", **values)

    @property
    def repository_url(self) -> str:
        """``https://github.com/OWNER/REPO`` (on this run's server)."""
        return f"{self.server_url}/{self.repository}"

    @property
    def workflow_path(self) -> str:
        """The workflow file, e.g. ``.github/workflows/release.yml``."""
        path = self.workflow_ref.removeprefix(f"{self.repository}/")
        return path.split("@", 1)[0]

    @property
    def invocation_id(self) -> str:
        """The run's URL with its attempt."""
        return (f"{self.repository_url}/actions/runs/{self.run_id}"
                f"/attempts/{self.run_attempt}")


def _server_url(value: str | None) -> str:
    url = (value or DEFAULT_SERVER_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
        raise InputError(f"GITHUB_SERVER_URL {url[:200]!r} is not an https server URL",
                         hint="e.g. https://github.com")
    return url


def _required(source: Mapping[str, Any], names: Mapping[str, str],
              missing_message: str) -> dict[str, str]:
    values: dict[str, str] = {}
    missing: list[str] = []
    for field_name, key in names.items():
        value = source.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            missing.append(key)
            continue
        values[field_name] = str(value)
    if missing:
        raise InputError(f"{missing_message} {', '.join(dict.fromkeys(missing))}",
                         hint="build provenance describes a GitHub Actions workflow run; "
                              "run in one (with 'id-token: write' for its token)")
    return values


def slsa_provenance(run: WorkflowRun) -> dict[str, Any]:
    """The SLSA v1 provenance predicate of ``run`` (predicate type
    ``https://slsa.dev/provenance/v1``), as ``actions/attest-build-provenance``."""
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "workflow": {
                    "ref": run.ref,
                    "repository": run.repository_url,
                    "path": run.workflow_path,
                },
            },
            "internalParameters": {
                "github": {
                    "event_name": run.event_name,
                    "repository_id": run.repository_id,
                    "repository_owner_id": run.repository_owner_id,
                    "runner_environment": run.runner_environment,
                },
            },
            "resolvedDependencies": [
                {"uri": f"git+{run.repository_url}@{run.ref}",
                 "digest": {"gitCommit": run.sha}},
            ],
        },
        "runDetails": {
            "builder": {"id": f"{run.server_url}/{run.job_workflow_ref}"},
            "metadata": {"invocationId": run.invocation_id},
        },
    }

