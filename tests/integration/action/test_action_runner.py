"""The composite action, run as a runner runs it, against a real registry and local Sigstore.

Each test runs ``action.yml`` through :mod:`signer.testing.runner` (which skips only the
setup-python and pip-install steps, pointing at this repository's ``.venv``): its
expressions are evaluated, its ``run:`` steps run in bash with the runner's files,
``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` are served by the local stack's
GitHub-style token endpoint and the images live in Debian's ``docker-registry``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signer.keys import write_cosign_key_pair
from signer.testing.images import DEFAULT_PLATFORMS, write_oci_archive, write_oci_layout
from signer.testing.registry import AuthRegistry, LocalRegistry
from tests.integration.action.conftest import (
    GITHUB_TOKEN,
    ActionHarness,
    assert_no_secrets,
    report_of,
)

pytestmark = pytest.mark.slow

OUTPUTS = {"digest", "signature-ref", "bundle-path", "attestation-ref",
           "attestation-bundle-path", "rekor-log-index", "rekor-entry-url",
           "certificate-identity", "verified", "results", "report"}


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("::error")]


def skopeo_tags(registry_host: str, repository: str) -> list[str]:
    out = subprocess.run(
        ["skopeo", "list-tags", "--tls-verify=false", f"docker://{registry_host}/{repository}"],
        capture_output=True, text=True, check=True, timeout=60)
    tags: list[str] = json.loads(out.stdout)["Tags"]
    return tags


def test_push_from_sign_and_verify_end_to_end(action: ActionHarness, registry: LocalRegistry,
                                              tmp_path: Path) -> None:
    image = write_oci_archive(tmp_path / "image.tar", seed="action-e2e", tag="v1")
    repo = f"{registry.host}/action/e2e"
    run = action.run({
        "push-from": str(image.path),
        # docker/metadata-action style: several tags of one repository, one per line
        "images": f"{repo}:v1\n{repo}:latest\n",
        "annotations": "team=release\n",
        **action.stack_inputs(),
    })
    assert run.succeeded, run.log
    assert set(run.outputs) == OUTPUTS
    hex_digest = image.digest.split(":")[1] if image.digest else ""
    assert run.outputs["digest"] == image.digest
    assert run.outputs["signature-ref"] == f"{repo}:sha256-{hex_digest}.sig"
    assert run.outputs["certificate-identity"] == action.stack.default_identity
    assert run.outputs["verified"] == "true"
    assert int(run.outputs["rekor-log-index"]) >= 0
    assert run.outputs["rekor-entry-url"].startswith(action.stack.rekor_url + "/api/v1/log/")
    # pushed under both tags, one signature for the repository (skopeo as independent client)
    tags = skopeo_tags(registry.host, "action/e2e")
    assert {"v1", "latest", f"sha256-{hex_digest}.sig"} <= set(tags)
    report = report_of(run)
    images = report["images"]
    assert isinstance(images, list) and len(images) == 1
    assert images[0]["signed"] is True and images[0]["verified"] is True
    # the summary: a table for the image with digest, identity, issuer, Rekor link, result
    summary = run.summary
    assert f"| Digest | `{image.digest}` |" in summary
    assert f"| Identity | {action.stack.default_identity} |" in summary
    assert f"| Issuer | {action.stack.oidc_issuer_url} |" in summary
    assert f"]({run.outputs['rekor-entry-url']})" in summary
    assert "✅ signed and verified" in summary
    # the log is grouped and the ID token was masked before use
    assert "::group::Sign" in run.log and "::endgroup::" in run.log
    assert any(m.count(".") == 2 and len(m) > 100 for m in run.masks), "ID token not masked"
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_verify_mode_defaults_to_this_repository_and_rejects_another(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-verify", tag="v2")
    repo = f"{registry.host}/action/verify"
    signed = action.run({"push-from": str(image.path), "images": f"{repo}:v2",
                         "verify-after-sign": "false", **action.stack_inputs()})
    assert signed.succeeded, signed.log
    assert signed.outputs["verified"] == "false"  # not asked to verify

    trust = {"trusted-root": str(action.stack.trusted_root_path)}
    issuer = {"certificate-oidc-issuer": action.stack.oidc_issuer_url}
    ok = action.run({"mode": "verify", "images": f"{repo}:v2", **trust, **issuer})
    assert ok.succeeded, ok.log
    assert ok.outputs["verified"] == "true"
    assert ok.outputs["digest"] == image.digest
    assert ok.outputs["certificate-identity"] == action.stack.default_identity
    assert "(default)" in ok.summary
    assert "source repository `https://github.com/octo-org/octo-repo`" in ok.summary
    # the Rekor link points at the log the trusted root names, not the public one
    assert ok.outputs["rekor-entry-url"].startswith(action.stack.rekor_url + "/api/v1/log/")
    assert "::notice::no certificate-identity given" in ok.log

    assert "::warning::" not in ok.log  # the default policy is anchored and escaped

    loose = action.run({"mode": "verify", "images": f"{repo}:v2", **trust, **issuer,
                        "certificate-identity-regexp": "octo-org/octo-repo"})
    assert loose.succeeded, loose.log
    warnings = [line for line in loose.log.splitlines() if line.startswith("::warning::")]
    assert warnings and "certificate-identity-regexp" in warnings[0]
    assert "not anchored" in warnings[0] and "--certificate" not in warnings[0]

    other = action.run({"mode": "verify", "images": f"{repo}:v2", **trust, **issuer},
                       repository="someone-else/octo-repo")
    assert other.exit_code == 12
    assert other.outputs["verified"] == "false"
    assert "❌ failure" in other.summary
    assert error_lines(other.log)

    for run in (signed, ok, other):
        assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_wrong_identity_is_rejected_with_exit_12(action: ActionHarness,
                                                 registry: LocalRegistry,
                                                 tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-wrong-id", tag="v1")
    repo = f"{registry.host}/action/wrong-identity"
    assert action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                       **action.stack_inputs()}).succeeded
    run = action.run({
        "mode": "verify", "images": f"{repo}:v1",
        "certificate-identity": "https://github.com/octo-org/other/.github/workflows/x.yml"
                                "@refs/heads/main",
        "certificate-oidc-issuer": action.stack.oidc_issuer_url,
        "trusted-root": str(action.stack.trusted_root_path),
    })
    assert run.exit_code == 12
    assert run.outputs["verified"] == "false"
    errors = error_lines(run.log)
    assert len(errors) == 1 and "no matching signatures" in errors[0]
    assert "❌ failed" in run.summary
    assert_no_secrets(run, [GITHUB_TOKEN])


def test_unsigned_image_fails_verification_with_exit_10(action: ActionHarness,
                                                        registry: LocalRegistry,
                                                        tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-unsigned", tag="v1")
    repo = f"{registry.host}/action/unsigned"
    subprocess.run([sys.executable, "-m", "signer", "push", "-q", image.source, f"{repo}:v1"],
                   check=True, timeout=60, capture_output=True)
    run = action.run({"mode": "verify", "images": f"{repo}:v1",
                      "certificate-identity": action.stack.default_identity,
                      "certificate-oidc-issuer": action.stack.oidc_issuer_url,
                      "trusted-root": str(action.stack.trusted_root_path)})
    assert run.exit_code == 10
    assert "no signatures found" in run.log
    assert run.outputs["verified"] == "false"
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_key_based_signing_with_registry_credentials(action: ActionHarness,
                                                     token_registry: AuthRegistry,
                                                     tmp_path: Path) -> None:
    key_password = "key-password-Zq81x"
    (tmp_path / "keys").mkdir()
    write_cosign_key_pair(tmp_path / "keys", key_password.encode())
    private_pem = (tmp_path / "keys" / "cosign.key").read_text()
    image = write_oci_layout(tmp_path / "layout", seed="action-key", tag="v1")
    repo = f"{token_registry.host}/action/key"
    credentials = {"registry-username": token_registry.username,
                   "registry-password": token_registry.password}
    run = action.run({
        "push-from": str(image.path), "images": f"{repo}:v1",
        "key": private_pem, "key-password": key_password, **credentials,
        **action.stack_inputs(),
    }, id_token=False)
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"
    assert run.outputs["certificate-identity"] == ""  # no certificate with a key
    assert run.outputs["rekor-log-index"] != ""
    verify = action.run({
        "mode": "verify", "images": f"{repo}:v1",
        "public-key": str(tmp_path / "keys" / "cosign.pub"), **credentials,
        "trusted-root": str(action.stack.trusted_root_path),
    })
    assert verify.succeeded, verify.log
    assert verify.outputs["verified"] == "true"
    secrets = [key_password, token_registry.password, GITHUB_TOKEN,
               *[line for line in private_pem.splitlines() if "-----" not in line]]
    for each in (run, verify):
        assert_no_secrets(each, secrets)


def test_key_signature_without_tlog(action: ActionHarness, registry: LocalRegistry,
                                    tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    write_cosign_key_pair(tmp_path / "keys", b"pw-no-tlog")
    image = write_oci_layout(tmp_path / "layout", seed="action-no-tlog", tag="v1")
    repo = f"{registry.host}/action/no-tlog"
    run = action.run({"push-from": str(image.path), "images": repo + ":v1",
                      "key": str(tmp_path / "keys" / "cosign.key"),
                      "key-password": "pw-no-tlog", "tlog-upload": "false",
                      **action.stack_inputs()}, id_token=False)
    assert run.succeeded, run.log
    assert run.outputs["rekor-log-index"] == "" and run.outputs["verified"] == "true"
    # the trusted root is the stack's (without it the action would ask public good's
    # TUF repository, which these offline tests cannot reach)
    trust = {"trusted-root": str(action.stack.trusted_root_path)}
    strict = action.run({"mode": "verify", "images": repo + ":v1",
                         "public-key": str(tmp_path / "keys" / "cosign.pub"), **trust})
    assert strict.exit_code == 12  # no tlog entry: refused unless told to ignore it
    relaxed = action.run({"mode": "verify", "images": repo + ":v1",
                          "public-key": str(tmp_path / "keys" / "cosign.pub"),
                          "insecure-ignore-tlog": "true", **trust})
    assert relaxed.succeeded, relaxed.log
    for each in (run, strict, relaxed):
        assert_no_secrets(each, ["pw-no-tlog", GITHUB_TOKEN])


def test_without_id_token_permission_the_error_says_so(action: ActionHarness,
                                                       registry: LocalRegistry,
                                                       tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-no-token", tag="v1")
    repo = f"{registry.host}/action/no-token"
    run = action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                      **action.stack_inputs()}, id_token=False)
    assert run.exit_code != 0
    errors = error_lines(run.log)
    assert errors and all("id-token: write" in line for line in errors)
    assert run.outputs["verified"] == "false"
    assert "❌ failed" in run.summary
    # nothing was signed: no .sig tag
    assert not [t for t in skopeo_tags(registry.host, "action/no-token") if t.endswith(".sig")]
    assert_no_secrets(run, [GITHUB_TOKEN])


def test_bad_inputs_are_reported_one_error_each_and_nothing_runs(
        action: ActionHarness) -> None:
    run = action.run({"mode": "attest", "images": "", "recursive": "perhaps",
                      "digest": "sha256:1234", "registry-password": "only-a-password"})
    assert run.exit_code == 2
    errors = error_lines(run.log)
    named = sorted(line.split("'")[1] for line in errors)
    assert named == ["digest", "images", "mode", "recursive", "registry-username"]
    # the outputs are still written: not verified, and why (issue 14 item 4)
    assert run.outputs["verified"] == "false"
    [result] = json.loads(run.outputs["results"])
    assert result["verified"] is False and result["exit_code"] == 2
    assert result["error"].startswith("invalid inputs: ")
    assert all(run.outputs[name] == "" for name in ("digest", "signature-ref",
                                                     "rekor-log-index", "certificate-identity"))
    assert_no_secrets(run, ["only-a-password", GITHUB_TOKEN])


def test_metadata_tags_and_digest_give_one_signature_per_repository(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-digest", tag="v1")
    assert image.digest is not None
    one, two = f"{registry.host}/action/digest-one", f"{registry.host}/action/digest-two"
    subprocess.run([sys.executable, "-m", "signer", "push", "-q", image.source,
                    f"{one}:v1,{one}:latest,{two}:v1"], check=True, timeout=60,
                   capture_output=True)
    # what docker/metadata-action's `tags` and build-push-action's `digest` look like
    run = action.run({"images": f"{one}:v1\n{one}:latest\n{two}:v1, {one}:1",
                      "digest": image.digest, **action.stack_inputs()})
    assert run.succeeded, run.log
    report = report_of(run)
    images = report["images"]
    assert isinstance(images, list)
    assert [entry["digest"] for entry in images] == [image.digest, image.digest]
    assert sorted(str(entry["signature_refs"][0]).split(":sha256-")[0] for entry in images) == [
        one, two]
    assert run.summary.count("| Digest |") == 2
    hex_digest = image.digest.split(":")[1]
    for repository in ("action/digest-one", "action/digest-two"):
        assert f"sha256-{hex_digest}.sig" in skopeo_tags(registry.host, repository)
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_recursive_signs_and_verifies_every_platform(action: ActionHarness,
                                                      registry: LocalRegistry,
                                                      tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-multi", tag="v1",
                             platforms=DEFAULT_PLATFORMS)
    repo = f"{registry.host}/action/multi"
    run = action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                      "recursive": "true", **action.stack_inputs()})
    assert run.succeeded, run.log
    report = report_of(run)
    images = report["images"]
    assert isinstance(images, list)
    assert sorted(str(entry["digest"]) for entry in images) == sorted(image.manifests)
    assert all(entry["signed"] is True and entry["verified"] is True for entry in images)
    assert run.outputs["verified"] == "true"
    assert run.outputs["digest"] == image.digest
    assert "(linux/arm64)" in run.summary and "(linux/amd64)" in run.summary
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_tls_registry_with_private_ca_and_basic_auth(action: ActionHarness,
                                                     tls_registry: AuthRegistry,
                                                     tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    write_cosign_key_pair(tmp_path / "keys", b"pw-tls")
    image = write_oci_layout(tmp_path / "layout", seed="action-tls", tag="v1")
    inputs = {"push-from": str(image.path), "images": f"{tls_registry.host}/action/tls:v1",
              "key": str(tmp_path / "keys" / "cosign.key"), "key-password": "pw-tls",
              "registry-username": tls_registry.username,
              "registry-password": tls_registry.password, **action.stack_inputs()}
    # TLS is verified: without the registry's CA the push is refused
    refused = action.run(inputs, id_token=False)
    assert refused.exit_code != 0
    errors = error_lines(refused.log)
    assert errors and all("TLS verification failed" in line for line in errors)
    assert tls_registry.ca_bundle is not None
    run = action.run({**inputs, "registry-ca-bundle": str(tls_registry.ca_bundle)},
                     id_token=False)
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"
    for each in (refused, run):
        assert_no_secrets(each, [tls_registry.password, "pw-tls", GITHUB_TOKEN])
