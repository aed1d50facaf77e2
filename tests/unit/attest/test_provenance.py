"""SLSA v1 provenance of a GitHub Actions run, the attestation statement and the
predicate type names, checked field by field and by the in-toto project's own
bindings (in-toto-attestation: the v1 Statement and the SLSA v1 Provenance protos)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from signer.errors import InputError, UsageError
from signer.formats.attestation import (
    PREDICATE_TYPES,
    SLSA_PROVENANCE_V1,
    Subject,
    attestation_statement,
    parse_predicate,
    predicate_type_uri,
)
from signer.formats.provenance import BUILD_TYPE, WorkflowRun, slsa_provenance

DIGEST = "sha256:" + "ab" * 32
#: a reusable workflow of another repository runs the job: job_workflow_ref differs
CLAIMS: dict[str, Any] = {
    "iss": "https://token.actions.githubusercontent.com",
    "repository": "octo-org/octo-repo",
    "ref": "refs/tags/v1.2.3",
    "sha": "5c0a9c1e8e3f6f2ad3c5c27d0b3f7e0a6f7a8b9c",
    "event_name": "push",
    "repository_id": "654321",
    "repository_owner_id": "123456",
    "runner_environment": "github-hosted",
    "workflow_ref": "octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.2.3",
    "job_workflow_ref": "octo-org/shared/.github/workflows/build.yml@refs/heads/main",
    "run_id": "9876543210",
    "run_attempt": "2",
}
ENVIRONMENT = {
    "GITHUB_SERVER_URL": "https://github.example.com",
    "GITHUB_REPOSITORY": "octo-org/octo-repo",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SHA": "1" * 40,
    "GITHUB_EVENT_NAME": "workflow_dispatch",
    "GITHUB_REPOSITORY_ID": "654321",
    "GITHUB_REPOSITORY_OWNER_ID": "123456",
    "RUNNER_ENVIRONMENT": "self-hosted",
    "GITHUB_WORKFLOW_REF": "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
    "GITHUB_RUN_ID": "42",
    "GITHUB_RUN_ATTEMPT": "1",
}


def validate_v1_statement(data: bytes) -> statement_pb2.Statement:  # type: ignore[name-defined]
    """The in-toto project's v1 checks; unknown fields are refused by the proto parser."""
    message = json_format.Parse(data, statement_pb2.Statement())  # type: ignore[attr-defined]
    Statement.copy_from_pb(message).validate()
    return message


def validate_slsa_v1(predicate: dict[str, Any]) -> None:
    """The predicate parses strictly as the SLSA v1 Provenance proto."""
    json_format.ParseDict(predicate, provenance_pb2.Provenance())  # type: ignore[attr-defined]


def test_provenance_from_token_claims_has_every_field_of_attest_build_provenance() -> None:
    run = WorkflowRun.from_token_claims(CLAIMS, "https://github.com/")
    predicate = slsa_provenance(run)
    assert predicate == {
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": "refs/tags/v1.2.3",
                "repository": "https://github.com/octo-org/octo-repo",
                "path": ".github/workflows/release.yml"}},
            "internalParameters": {"github": {
                "event_name": "push", "repository_id": "654321",
                "repository_owner_id": "123456", "runner_environment": "github-hosted"}},
            "resolvedDependencies": [{
                "uri": "git+https://github.com/octo-org/octo-repo@refs/tags/v1.2.3",
                "digest": {"gitCommit": "5c0a9c1e8e3f6f2ad3c5c27d0b3f7e0a6f7a8b9c"}}],
        },
        "runDetails": {
            "builder": {"id": "https://github.com/octo-org/shared/.github/workflows/"
                              "build.yml@refs/heads/main"},
            "metadata": {"invocationId": "https://github.com/octo-org/octo-repo/actions/"
                                         "runs/9876543210/attempts/2"},
        },
    }
    validate_slsa_v1(predicate)


def test_provenance_from_environment() -> None:
    run = WorkflowRun.from_environment(ENVIRONMENT)
    assert run.source == "the runner environment"
    predicate = slsa_provenance(run)
    definition, details = predicate["buildDefinition"], predicate["runDetails"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"]["workflow"] == {
        "ref": "refs/heads/main", "repository": "https://github.example.com/octo-org/octo-repo",
        "path": ".github/workflows/ci.yml"}
    assert definition["internalParameters"]["github"] == {
        "event_name": "workflow_dispatch", "repository_id": "654321",
        "repository_owner_id": "123456", "runner_environment": "self-hosted"}
    assert definition["resolvedDependencies"] == [{
        "uri": "git+https://github.example.com/octo-org/octo-repo@refs/heads/main",
        "digest": {"gitCommit": "1" * 40}}]
    assert details["builder"]["id"] == ("https://github.example.com/octo-org/octo-repo/"
                                        ".github/workflows/ci.yml@refs/heads/main")
    assert details["metadata"]["invocationId"] == (
        "https://github.example.com/octo-org/octo-repo/actions/runs/42/attempts/1")
    validate_slsa_v1(predicate)


@pytest.mark.parametrize("missing", ["runner_environment", "job_workflow_ref", "run_attempt"])
def test_a_token_without_a_claim_is_refused_by_name(missing: str) -> None:
    claims = {k: v for k, v in CLAIMS.items() if k != missing}
    with pytest.raises(InputError, match=f"lacks the claims {missing}"):
        WorkflowRun.from_token_claims(claims)


def test_outside_a_job_the_environment_is_refused_naming_the_variables() -> None:
    with pytest.raises(InputError, match="GITHUB_REPOSITORY, GITHUB_REF"):
        WorkflowRun.from_environment({"PATH": "/usr/bin"})


@pytest.mark.parametrize("url", ["http://github.com", "https://github.com/path", "github.com"])
def test_a_server_url_that_is_no_https_origin_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="GITHUB_SERVER_URL"):
        WorkflowRun.from_token_claims(CLAIMS, url)


def test_claim_values_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(InputError, match="run_id"):
        WorkflowRun.from_token_claims({**CLAIMS, "run_id": {"x": 1}})


def test_the_statement_is_an_in_toto_v1_statement() -> None:
    predicate = slsa_provenance(WorkflowRun.from_token_claims(CLAIMS))
    data = attestation_statement([Subject("ghcr.io/octo-org/app", DIGEST)], SLSA_PROVENANCE_V1,
                                 predicate)
    message = validate_v1_statement(data)
    assert message.predicate_type == SLSA_PROVENANCE_V1
    assert message.subject[0].name == "ghcr.io/octo-org/app"
    assert dict(message.subject[0].digest) == {"sha256": "ab" * 32}
    statement = json.loads(data)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicate"] == predicate
    validate_slsa_v1(statement["predicate"])


def test_a_statement_without_subjects_is_refused() -> None:
    with pytest.raises(InputError, match="subject"):
        attestation_statement([], SLSA_PROVENANCE_V1, {})


def test_the_validator_itself_refuses_what_is_not_a_v1_statement() -> None:
    """The check used above can fail: an empty predicate and a v0.1 type are refused."""
    good = attestation_statement([Subject("x", DIGEST)], SLSA_PROVENANCE_V1, {"a": 1})
    with pytest.raises(ValueError, match="Predicate object required"):
        validate_v1_statement(attestation_statement([Subject("x", DIGEST)], "t", {}))
    older = json.loads(good)
    older["_type"] = "https://in-toto.io/Statement/v0.1"
    with pytest.raises(ValueError, match="Wrong statement type"):
        validate_v1_statement(json.dumps(older).encode())
    with pytest.raises(json_format.ParseError):
        validate_slsa_v1({"buildDefinition": {"buildTyp": BUILD_TYPE}})


@pytest.mark.parametrize(("name", "uri"), [
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
])
def test_cosign_short_names(name: str, uri: str) -> None:
    assert predicate_type_uri(name) == uri
    assert name in PREDICATE_TYPES


def test_a_uri_is_taken_as_it_is_and_anything_else_is_a_usage_error() -> None:
    assert predicate_type_uri("https://example.com/custom/v2") == "https://example.com/custom/v2"
    for bad in ("slsa", "not a uri", "", "https://x y"):
        with pytest.raises(UsageError, match="invalid predicate type"):
            predicate_type_uri(bad)


def test_a_predicate_must_be_json() -> None:
    assert parse_predicate(b'{"a": [1]}', "p.json") == {"a": [1]}
    with pytest.raises(InputError, match=r"p\.json is not JSON"):
        parse_predicate(b"{not json", "p.json")
