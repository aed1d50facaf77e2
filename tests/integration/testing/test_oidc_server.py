"""The local OIDC issuer and the GitHub-style token request endpoint."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from signer.testing.stack import Stack


def _request_token(stack: Stack, audience: str | None, method: str = "GET") -> requests.Response:
    url = stack.token_request_url
    if audience is not None:
        url += f"&audience={audience}"
    return requests.request(
        method,
        url,
        headers={"Authorization": f"bearer {stack.token_request_token}"},
        timeout=10,
    )


def _verified_claims(stack: Stack, token: str, audience: str = "sigstore") -> dict[str, object]:
    discovery = requests.get(
        stack.oidc_issuer_url + "/.well-known/openid-configuration", timeout=10
    ).json()
    assert discovery["issuer"] == stack.oidc_issuer_url
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk).key
    claims: dict[str, object] = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer=stack.oidc_issuer_url
    )
    return claims


def test_request_url_already_has_a_query(sigstore_stack: Stack) -> None:
    query = parse_qs(urlsplit(sigstore_stack.token_request_url).query)
    assert query == {"api-version": ["2.0"]}


def test_token_endpoint_returns_a_verifiable_github_token(sigstore_stack: Stack) -> None:
    response = _request_token(sigstore_stack, "sigstore")
    assert response.status_code == 200
    token = response.json()["value"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]
    claims = _verified_claims(sigstore_stack, token)
    for name in (
        "sub", "job_workflow_ref", "workflow_ref", "repository", "repository_id",
        "repository_owner", "repository_owner_id", "repository_visibility", "ref", "sha",
        "event_name", "workflow", "run_id", "run_attempt", "runner_environment",
        "job_workflow_sha", "workflow_sha",
    ):  # fmt: skip
        assert isinstance(claims[name], str) and claims[name], name
    now = time.time()
    assert isinstance(claims["exp"], int) and now < claims["exp"] <= now + 301
    assert isinstance(claims["nbf"], int) and claims["nbf"] < now


def test_post_is_accepted_too(sigstore_stack: Stack) -> None:
    response = _request_token(sigstore_stack, "sigstore", method="POST")
    assert response.status_code == 200
    _verified_claims(sigstore_stack, response.json()["value"])


def test_audience_parameter_and_default(sigstore_stack: Stack) -> None:
    token = _request_token(sigstore_stack, "custom-aud").json()["value"]
    _verified_claims(sigstore_stack, token, audience="custom-aud")
    token = _request_token(sigstore_stack, None).json()["value"]
    _verified_claims(sigstore_stack, token, audience="https://github.com/octo-org")


def test_missing_or_wrong_request_token(sigstore_stack: Stack) -> None:
    url = sigstore_stack.token_request_url + "&audience=sigstore"
    assert requests.get(url, timeout=10).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 403
    assert "value" not in wrong.json()


def test_claim_overrides_reach_endpoint_tokens(fresh_faults: Stack) -> None:
    stack = fresh_faults
    stack.set_token_claims(repository="other/repo", environment="prod", ref_type=None)
    claims = _verified_claims(stack, _request_token(stack, "sigstore").json()["value"])
    assert claims["repository"] == "other/repo"
    assert claims["environment"] == "prod"
    assert "ref_type" not in claims


def test_issue_token_overrides(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token(sub="repo:a/b:ref:refs/tags/v1", run_attempt="3")
    claims = _verified_claims(sigstore_stack, token)
    assert claims["sub"] == "repo:a/b:ref:refs/tags/v1"
    assert claims["run_attempt"] == "3"


def test_email_issuer_discovery(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_email_token("x@example.com")
    discovery = requests.get(
        sigstore_stack.email_issuer_url + "/.well-known/openid-configuration", timeout=10
    ).json()
    assert discovery["issuer"] == sigstore_stack.email_issuer_url
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    claims = jwt.decode(
        token, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["RS256"], audience="sigstore"
    )
    assert claims["email"] == "x@example.com" and claims["email_verified"] is True
