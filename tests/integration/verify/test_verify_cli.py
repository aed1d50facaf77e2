"""``signer verify`` as users run it (the stories of the issue), against the real
registry: output, check lines, exit codes and failure reasons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from signer.reference import Reference
from tests.integration.verify.conftest import KeySignedImage, PushSignatures, run_cli
from tests.unit.verify.cases import LEGACY, LegacyCase, load_case

TRUST = LEGACY.parent / "trust"
REKOR = {"SIGSTORE_REKOR_PUBLIC_KEY": str(TRUST / "legacy" / "rekor.pub")}


def _push_case(push: PushSignatures, name: str, repository: str | None = None) -> tuple[
        LegacyCase, Reference]:
    case = load_case(LEGACY / name)
    return case, push(repository or f"stories/{name.lower().replace('_', '-')}", case.digest,
                      case.layers)


def test_key_based_with_insecure_ignore_tlog_prints_claims(push_signatures: PushSignatures
                                                           ) -> None:
    case, image = _push_case(push_signatures, "cimg-key-no-tlog-valid")
    result = run_cli(["verify", "--key", str(case.path / "public-key.pem"),
                      "--insecure-ignore-tlog", str(image)])
    assert result.returncode == 0, result.stderr
    assert "Skipping tlog verification is an insecure practice" in result.stderr
    assert "  - The cosign claims were validated" in result.stderr
    assert "  - The signatures were verified against the specified public key" in result.stderr
    assert "transparency log was verified" not in result.stderr
    claims = json.loads(result.stdout)
    assert claims == [json.loads(case.layers[0].payload)]


def test_key_based_with_rekor_bundle_offline_matches_published_output(
        push_signatures: PushSignatures) -> None:
    case, image = _push_case(push_signatures, "spectro-librarium-nightly-key-valid")
    result = run_cli(["verify", "--key", str(case.path / "public-key.pem"), "--offline",
                      str(image)], REKOR)
    assert result.returncode == 0, result.stderr
    assert ("  - Existence of the claims in the transparency log was verified offline"
            in result.stderr)
    published = json.loads((case.path / "published-cosign-verify-output.json").read_text())
    assert json.loads(result.stdout) == published
    assert result.stdout.startswith("\n[{") and result.stdout.endswith("}]\n")


def test_keyless_github_identity_regexp_and_issuer(push_signatures: PushSignatures) -> None:
    _, image = _push_case(push_signatures, "salr-dockerhub-sig-manifest-keyless-valid")
    result = run_cli([
        "verify", "--trusted-root", str(TRUST / "public-good-trusted_root.json"),
        "--certificate-identity-regexp", "github.com/salrashid123/go-bazel-github-workflow/",
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
        "--certificate-github-workflow-trigger", "push",
        "--certificate-github-workflow-repository", "salrashid123/go-bazel-github-workflow",
        str(image)])
    assert result.returncode == 0, result.stderr
    assert ("  - The code-signing certificate was verified using trusted certificate "
            "authority certificates") in result.stderr
    [element] = json.loads(result.stdout)
    assert element["optional"]["Issuer"] == "https://token.actions.githubusercontent.com"
    assert element["optional"]["githubWorkflowRef"] == "refs/tags/v0.0.30"
    assert element["optional"]["1.3.6.1.4.1.57264.1.6"] == "refs/tags/v0.0.30"
    assert element["optional"]["Bundle"]["Payload"]["logIndex"] == 1004096555


def test_keyless_wrong_workflow_ref_names_expected_and_found(push_signatures: PushSignatures
                                                             ) -> None:
    _, image = _push_case(push_signatures, "salr-dockerhub-sig-manifest-keyless-valid")
    result = run_cli([
        "verify", "--certificate-identity-regexp", "^https://github.com/salrashid123/",
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
        "--certificate-github-workflow-ref", "refs/tags/v9.9.9", str(image)])
    assert result.returncode == 12
    assert "identity: expected GitHub Workflow Ref 'refs/tags/v9.9.9', found " \
           "'refs/tags/v0.0.30'" in result.stderr


def test_wrong_key_prints_no_matching_signatures_with_reason(push_signatures: PushSignatures
                                                             ) -> None:
    case, image = _push_case(push_signatures, "spectro-librarium-nightly-wrong-key_fail")
    result = run_cli(["verify", "--key", str(case.path / "public-key.pem"), str(image)], REKOR)
    assert result.returncode == 12
    assert result.stdout == ""
    assert f"Error: no matching signatures for {image.name}:" in result.stderr
    assert "rekor body: the log entry's public key differs" in result.stderr


def test_wrong_identity_says_what_was_expected_and_found(push_signatures: PushSignatures
                                                         ) -> None:
    _, image = _push_case(push_signatures, "cimg-fulcio-rekor-valid")
    result = run_cli(["verify", "--certificate-identity", "someone@example.com",
                      "--certificate-oidc-issuer", "https://github.com/login/oauth",
                      str(image)])
    assert result.returncode == 12
    assert ("identity: expected subject 'someone@example.com' with issuer "
            "'https://github.com/login/oauth'; found subjects [mitr@redhat.com] with issuer "
            "https://github.com/login/oauth") in result.stderr


def test_annotations_are_checked(push_signatures: PushSignatures) -> None:
    case, image = _push_case(push_signatures, "spectro-librarium-nightly-key-valid")
    key = str(case.path / "public-key.pem")
    good = run_cli(["verify", "--key", key, "-a", "owner=Spectro Cloud", "-a",
                    "repo=spectrocloud/librarium", str(image)], REKOR)
    assert good.returncode == 0, good.stderr
    assert "  - The specified annotations were verified." in good.stderr
    bad = run_cli(["verify", "--key", key, "-a", "owner=Someone Else", str(image)], REKOR)
    assert bad.returncode == 12
    assert "claims: missing or incorrect annotation 'owner'" in bad.stderr


def test_text_output_prints_certificate_lines_and_payload(push_signatures: PushSignatures
                                                          ) -> None:
    case, image = _push_case(push_signatures, "salr-gar-sig-manifest-keyless-layer-valid")
    result = run_cli(["verify", "--certificate-identity",
                      "cosign-svc-account@mineral-minutia-820.iam.gserviceaccount.com",
                      "--certificate-oidc-issuer", "https://accounts.google.com",
                      "--output", "text", str(image)])
    assert result.returncode == 0, result.stderr
    assert ("Certificate subject: cosign-svc-account@mineral-minutia-820.iam."
            "gserviceaccount.com") in result.stderr
    assert "Certificate issuer URL: https://accounts.google.com" in result.stderr
    assert result.stdout == case.layers[1].payload.decode() + "\n"


def test_no_signatures_exit_10(key_signed_image: Callable[..., KeySignedImage],
                               registry_client: object) -> None:
    signed = key_signed_image("stories/unsigned-elsewhere", signature_repository="stories/sigs")
    result = run_cli(["verify", "--key", signed.public_key_path, "--insecure-ignore-tlog",
                      str(signed.tag_reference)])
    assert result.returncode == 10
    assert "no signatures found" in result.stderr


def test_tag_not_found_exit_11(key_signed_image: Callable[..., KeySignedImage]) -> None:
    signed = key_signed_image("stories/tagged")
    missing = signed.tag_reference.with_tag("does-not-exist")
    result = run_cli(["verify", "--key", signed.public_key_path, "--insecure-ignore-tlog",
                      str(missing)])
    assert result.returncode == 11
    assert f"image tag not found: {missing.name}" in result.stderr


def test_tag_is_resolved_and_header_names_the_tag(
        key_signed_image: Callable[..., KeySignedImage]) -> None:
    signed = key_signed_image("stories/by-tag", tag="release")
    result = run_cli(["verify", "--key", signed.public_key_path, "--insecure-ignore-tlog",
                      str(signed.tag_reference)])
    assert result.returncode == 0, result.stderr
    assert f"Verification for {signed.tag_reference.name} --" in result.stderr
    [element] = json.loads(result.stdout)
    assert element["critical"]["image"]["docker-manifest-digest"] == \
        signed.digest_reference.digest


def test_signature_repository_from_flag_and_environment(
        key_signed_image: Callable[..., KeySignedImage], registry: object) -> None:
    signed = key_signed_image("stories/image-a", signature_repository="stories/signatures")
    host = signed.tag_reference.registry
    base = ["verify", "--key", signed.public_key_path, "--insecure-ignore-tlog"]
    flag = run_cli([*base, "--signature-repository", f"{host}/stories/signatures",
                    str(signed.tag_reference)])
    assert flag.returncode == 0, flag.stderr
    env = run_cli([*base, str(signed.tag_reference)],
                  {"COSIGN_REPOSITORY": f"{host}/stories/signatures"})
    assert env.returncode == 0, env.stderr


def test_several_images_one_failing(key_signed_image: Callable[..., KeySignedImage],
                                    push_signatures: PushSignatures) -> None:
    good = key_signed_image("stories/multi-good")
    _, other = _push_case(push_signatures, "srs-busybox-key-no-tlog-valid")
    result = run_cli(["verify", "--key", good.public_key_path, "--insecure-ignore-tlog",
                      str(good.digest_reference), str(other)])
    assert result.returncode == 12
    assert f"Verification for {good.digest_reference.name} --" in result.stderr
    assert f"no matching signatures for {other.name}" in result.stderr
    assert len(json.loads(result.stdout)) == 1


def test_keyless_without_identity_is_refused_with_a_hint() -> None:
    result = run_cli(["verify", "127.0.0.1:1/none@sha256:" + "a" * 64])
    assert result.returncode == 2
    assert "--certificate-identity or --certificate-identity-regexp is required" in result.stderr
    assert "hint:" in result.stderr
    only_identity = run_cli(["verify", "--certificate-identity", "x@example.com",
                             "127.0.0.1:1/none@sha256:" + "a" * 64])
    assert only_identity.returncode == 2
    assert "--certificate-oidc-issuer" in only_identity.stderr


def test_key_and_identity_together_is_a_usage_error(tmp_path: object) -> None:
    key = LEGACY / "srs-busybox-key-no-tlog-valid" / "public-key.pem"
    result = run_cli(["verify", "--key", str(key), "--certificate-identity", "a@b.c",
                      "127.0.0.1:1/none@sha256:" + "a" * 64])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_legacy_trust_files_instead_of_a_trusted_root(push_signatures: PushSignatures,
                                                      tmp_path: Path) -> None:
    _, image = _push_case(push_signatures, "salr-gar-sig-manifest-keyless-layer-valid")
    roots = tmp_path / "fulcio.pem"
    roots.write_text((TRUST / "legacy" / "fulcio_v1.crt.pem").read_text()
                     + (TRUST / "legacy" / "fulcio_intermediate_v1.crt.pem").read_text())
    flags = ["--certificate-identity",
             "cosign-svc-account@mineral-minutia-820.iam.gserviceaccount.com",
             "--certificate-oidc-issuer", "https://accounts.google.com"]
    env = {"SIGSTORE_ROOT_FILE": str(roots), **REKOR,
           "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": str(TRUST / "legacy" / "ctfe_2022.pub")}
    result = run_cli(["verify", *flags, str(image)], env)
    assert result.returncode == 0, result.stderr
    only_old_root = {**env, "SIGSTORE_ROOT_FILE": str(TRUST / "legacy" / "fulcio.crt.pem")}
    refused = run_cli(["verify", *flags, str(image)], only_old_root)
    assert refused.returncode == 12
    assert "certificate chain: no path" in refused.stderr


def test_private_pki_through_certificate_chain(push_signatures: PushSignatures) -> None:
    case, image = _push_case(push_signatures, "cimg-pki-byo-rsa-valid")
    result = run_cli(["verify", "--certificate-chain", str(case.path / "chain.pem"),
                      "--certificate-identity", "qiwan@redhat.com",
                      "--certificate-oidc-issuer-regexp", ".*", "--insecure-ignore-tlog",
                      "--insecure-ignore-sct", str(image)])
    assert result.returncode == 0, result.stderr
    without_chain = run_cli(["verify", "--certificate-identity", "qiwan@redhat.com",
                             "--certificate-oidc-issuer-regexp", ".*",
                             "--insecure-ignore-tlog", "--insecure-ignore-sct", str(image)])
    assert without_chain.returncode == 12
    assert "certificate chain:" in without_chain.stderr


def test_too_many_signature_layers_is_refused(push_signatures: PushSignatures) -> None:
    case = load_case(LEGACY / "srs-busybox-key-no-tlog-valid")
    image = push_signatures("stories/many-layers", case.digest, case.layers * 1001)
    result = run_cli(["verify", "--key", str(case.path / "public-key.pem"),
                      "--insecure-ignore-tlog", str(image)])
    assert result.returncode == 1
    assert "1001 layers, over the limit of 1000" in result.stderr
    assert "Traceback" not in result.stderr
