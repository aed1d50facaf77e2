"""The action's input parsing, validation, workflow commands and output files."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from signer.action import run
from signer.action.console import Console, write_outputs
from signer.action.inputs import parse_annotations, parse_images, read_inputs, secret_values
from signer.action.policy import VerifyPolicy
from signer.action.report import ImageResult, rekor_entry_url, render_summary, write_report
from signer.action.values import InputProblem, split_images
from signer.testing.runner import parse_command_file

METADATA_TAGS = "ghcr.io/o/r:1.2.3\nghcr.io/o/r:1.2\nghcr.io/o/r:latest\n"


def env(**inputs: str) -> dict[str, str]:
    values = {"GITHUB_REPOSITORY": "octo-org/octo.repo", "GITHUB_WORKSPACE": "/"}
    for name, value in inputs.items():
        values["INPUT_" + name.upper()] = value
    return values


def problems_of(values: dict[str, str]) -> dict[str, str]:
    inputs, problems = read_inputs(values)
    assert (inputs is None) == bool(problems)
    return {p.name: p.message for p in problems}


def test_images_split_on_newlines_commas_and_spaces_in_order_without_duplicates() -> None:
    assert split_images("a:1, b:2\n\n c:3 a:1,,d") == ["a:1", "b:2", "c:3", "d"]
    assert split_images(METADATA_TAGS) == ["ghcr.io/o/r:1.2.3", "ghcr.io/o/r:1.2",
                                           "ghcr.io/o/r:latest"]
    assert split_images(" \n , ") == []


def test_valid_sign_inputs_are_parsed() -> None:
    inputs, problems = read_inputs(env(
        images=METADATA_TAGS, digest="sha256:" + "a" * 64, annotations="team=infra\nx.y/z = 1",
        recursive="true", tlog_upload="", verify_after_sign="False"))
    assert problems == [] and inputs is not None
    assert inputs.mode == "sign"
    assert inputs.images == ("ghcr.io/o/r:1.2.3", "ghcr.io/o/r:1.2", "ghcr.io/o/r:latest")
    assert inputs.annotations == (("team", "infra"), ("x.y/z", "1"))
    assert inputs.recursive is True and inputs.tlog_upload is True
    assert inputs.verify_after_sign is False
    assert inputs.policy is None


def test_the_parsed_inputs_repr_holds_no_secret(tmp_path: Path) -> None:
    """A bug report or a debugger printing the inputs must not show the registry
    password, the key password, the GitHub token or an identity token."""
    (tmp_path / "cosign.key").write_text("not read here")
    inputs, problems = read_inputs({**env(
        images="ghcr.io/o/r:1", registry="ghcr.io", registry_username="octocat",
        registry_password="pw-SECRET-1", key="cosign.key", key_password="pw-SECRET-2",
        github_token="ghs_SECRET3"), "GITHUB_WORKSPACE": str(tmp_path)})
    assert problems == [] and inputs is not None
    assert inputs.registry_password == "pw-SECRET-1" and inputs.github_token == "ghs_SECRET3"
    signing = read_inputs(env(images="ghcr.io/o/r:1", identity_token="eyJ.SECRET4.x"))[0]
    assert signing is not None and signing.identity_token == "eyJ.SECRET4.x"
    shown = repr(inputs) + str(inputs) + repr(signing)
    assert "SECRET" not in shown, shown
    assert "octocat" in shown  # the rest is still shown


def test_every_bad_input_is_reported_once_with_its_name() -> None:
    found = problems_of(env(
        mode="attest", images="", digest="sha256:xyz", recursive="maybe",
        annotations="novalue", fulcio_url="ftp://x", certificate_identity_regexp="(",
        registry_username="me"))
    assert set(found) == {"mode", "images", "digest", "recursive", "annotations",
                          "fulcio-url", "certificate-identity-regexp", "registry-password"}
    assert "attest" in found["mode"]
    assert "maybe" in found["recursive"]
    assert "line 1" in found["annotations"]


def test_service_urls_with_credentials_are_refused_without_echoing_them() -> None:
    found = problems_of(env(images="r:1", rekor_url="https://user:hunter2@rekor.example",
                            fulcio_url="https://token@fulcio.example/api"))
    assert set(found) == {"rekor-url", "fulcio-url"}
    for message in found.values():
        assert "user name or password" in message
        assert "hunter2" not in message and "token@" not in message
    # a wrong scheme is named, but a value that may hold credentials is not echoed
    found = problems_of(env(images="r:1", rekor_url="ftp://user:hunter2@rekor.example",
                            fulcio_url="ftp://fulcio.example"))
    assert found["rekor-url"] == "expected an http(s) URL"
    assert found["fulcio-url"] == "expected an http(s) URL, got 'ftp://fulcio.example'"
    inputs, problems = read_inputs(env(images="r:1",
                                       rekor_url="https://rekor.example/path@v1"))
    assert problems == [] and inputs is not None
    assert inputs.rekor_url == "https://rekor.example/path@v1"


def test_verify_mode_without_identity_defaults_to_this_repository() -> None:
    inputs, problems = read_inputs(env(mode="verify", images="ghcr.io/o/r:1"))
    assert problems == [] and inputs is not None and inputs.policy is not None
    policy = inputs.policy
    assert policy.is_default
    assert policy.issuer == "https://token.actions.githubusercontent.com"
    # the repository whose run signed (Source Repository URI), not the SAN's workflow file
    assert policy.identity is None and policy.identity_regexp is None
    assert policy.source_repository == "https://github.com/octo-org/octo.repo"
    assert "this repository" in policy.describe()


def test_verify_mode_with_only_an_issuer_keeps_the_default_identity() -> None:
    inputs, problems = read_inputs(env(mode="verify", images="r:1",
                                       certificate_oidc_issuer="https://issuer.example"))
    assert problems == [] and inputs is not None and inputs.policy is not None
    assert inputs.policy.is_default
    assert inputs.policy.source_repository == "https://github.com/octo-org/octo.repo"
    assert inputs.policy.issuer == "https://issuer.example"


def test_verify_mode_default_needs_the_repository() -> None:
    values = env(mode="verify", images="r:1")
    del values["GITHUB_REPOSITORY"]
    assert "certificate-identity" in problems_of(values)


def test_identity_needs_an_issuer_and_excludes_a_public_key(tmp_path: Path) -> None:
    assert "certificate-oidc-issuer" in problems_of(env(
        mode="verify", images="r:1", certificate_identity="https://x"))
    assert "certificate-identity" in problems_of(env(
        images="r:1", certificate_oidc_issuer="https://x"))
    assert "public-key" in problems_of(env(
        mode="verify", images="r:1", certificate_identity="a", certificate_oidc_issuer="b",
        public_key="-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----"))
    assert "public-key" in problems_of(env(mode="verify", images="r:1",
                                           public_key=str(tmp_path / "missing.pub")))


def test_signing_config_and_timestamp_server_inputs(tmp_path: Path) -> None:
    """signing-config is a file resolved against the workspace; timestamp-server-url an
    http(s) URL without credentials (never echoed); both are for sign mode only."""
    (tmp_path / "signing_config.v0.2.json").write_text("{}")
    inputs, problems = read_inputs({**env(
        images="r:1", signing_config="signing_config.v0.2.json",
        timestamp_server_url="https://tsa.example/api/v1/timestamp/"),
        "GITHUB_WORKSPACE": str(tmp_path)})
    assert problems == [] and inputs is not None
    assert inputs.signing_config == str(tmp_path / "signing_config.v0.2.json")
    assert inputs.timestamp_server_url == "https://tsa.example/api/v1/timestamp"
    found = problems_of({**env(images="r:1", signing_config="missing.json",
                               timestamp_server_url="https://u:hunter2@tsa.example"),
                         "GITHUB_WORKSPACE": str(tmp_path)})
    assert found == {"signing-config": "no such file or directory: missing.json",
                     "timestamp-server-url": "the URL must not hold a user name or password"}
    found = problems_of(env(images="r:1", timestamp_server_url="tsa.example"))
    assert found == {"timestamp-server-url": "expected an http(s) URL, got 'tsa.example'"}
    found = problems_of({**env(mode="verify", images="r:1",
                               certificate_identity="me", certificate_oidc_issuer="https://i",
                               signing_config="signing_config.v0.2.json",
                               timestamp_server_url="https://tsa.example"),
                         "GITHUB_WORKSPACE": str(tmp_path)})
    assert found == {"signing-config": "only used in sign mode",
                     "timestamp-server-url": "only used in sign mode"}


def test_keyless_signing_requires_the_tlog() -> None:
    assert "tlog-upload" in problems_of(env(images="r:1", tlog_upload="false"))


def test_key_in_verify_mode_and_missing_paths_are_rejected(tmp_path: Path) -> None:
    assert "key" in problems_of(env(mode="verify", images="r:1", key="cosign.key"))
    assert "push-from" in problems_of(env(images="r:1", push_from=str(tmp_path / "nope.tar")))


def test_annotations_reject_lines_without_a_key() -> None:
    with pytest.raises(InputProblem) as info:
        parse_annotations("a=1\n=2")
    assert info.value.name == "annotations" and "line 2" in info.value.message


def test_secrets_are_masked_line_by_line() -> None:
    stream = io.StringIO()
    Console(stream).mask("line-one\n\nline%two")
    assert stream.getvalue() == "::add-mask::line-one\n::add-mask::line%25two\n"
    values = {"INPUT_REGISTRY_PASSWORD": "pw", "INPUT_GITHUB_TOKEN": "ghs_x",
              "INPUT_KEY": "cosign.key", "INPUT_KEY_PASSWORD": ""}
    assert secret_values(values) == ["pw", "ghs_x"]
    values["INPUT_KEY"] = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n"
    assert values["INPUT_KEY"] in secret_values(values)


def test_error_commands_escape_their_message() -> None:
    stream = io.StringIO()
    Console(stream).error("50% bad", title="input: a,b", hint="second")
    assert stream.getvalue() == "::error title=input%3A a%2Cb::50%25 bad%0A  hint: second\n"


def test_error_commands_neutralise_line_breaks_in_the_message() -> None:
    stream = io.StringIO()
    Console(stream).error("bad\r::add-mask::x\n::stop-commands::y", title="t\rz")
    assert stream.getvalue() == ("::error title=t\\rz::bad\\r::add-mask::x\\n"
                                 "::stop-commands::y\n")


def test_plain_lines_never_read_as_workflow_commands() -> None:
    stream = io.StringIO()
    console = Console(stream)
    console.line("  ::add-mask::x")
    console.line("##[error]y")
    console.line("a\x1b[2Jb")
    assert stream.getvalue() == "  \\x3a:add-mask::x\n\\x23#[error]y\na\\x1b[2Jb\n"


def test_outputs_are_one_line_and_read_back_by_a_runner(tmp_path: Path) -> None:
    path = tmp_path / "out"
    values = {"digest": "sha256:" + "b" * 64, "report": "line1\nline2\rEOF\n", "empty": ""}
    write_outputs(path, values)
    write_outputs(path, {"second": "x"})
    assert parse_command_file(path.read_text()) == {
        **values, "report": "line1\\nline2\\rEOF\\n", "second": "x"}
    delimiters = re.findall(r"<<(\S+)", path.read_text())
    assert len(set(delimiters)) == 4 and all(len(d) > 20 for d in delimiters)


def test_summary_has_a_table_per_image_and_says_when_the_policy_is_the_default() -> None:
    results = [
        ImageResult("ghcr.io/o/r:1", digest="sha256:" + "c" * 64, identity="https://id",
                    issuer="https://iss", rekor_log_index=7,
                    rekor_entry_url=rekor_entry_url(None, 7), signed=True,
                    verified=True),
        ImageResult("ghcr.io/o/s:1", error="no signatures found", exit_code=10),
    ]
    policy = VerifyPolicy(identity_regexp="^x", issuer="https://iss", is_default=True)
    text = render_summary("verify", results, policy)
    assert text.count("| Digest |") == 2
    assert "[7](https://search.sigstore.dev/?logIndex=7)" in text
    assert "❌ failure" in text and "no signatures found" in text
    assert "(default)" in text


def test_a_huge_error_cannot_blow_the_summary_past_its_size_limit() -> None:
    reason = "identity: found subjects [" + "https://evil.example/|<x>`" * 400 + "]; "
    results = [ImageResult(f"r/{n}:1", error="no matching signatures: " + reason * 1000,
                           exit_code=12) for n in range(20)]
    text = render_summary("verify", results, None)
    assert len(text.encode()) < 100_000  # GitHub drops a step summary above 1 MiB
    rows = [line for line in text.splitlines() if line.startswith("| Result |")]
    assert len(rows) == 20 and all("more characters\\)" in row for row in rows)


def test_rekor_entry_url_for_a_private_log() -> None:
    assert (rekor_entry_url("http://127.0.0.1:1/", 3)
            == "http://127.0.0.1:1/api/v1/log/entries?logIndex=3")
    assert rekor_entry_url("http://x", None) is None


def test_report_is_json_with_one_entry_per_image(tmp_path: Path) -> None:
    path = write_report(tmp_path, "sign", [ImageResult("r:1", signed=True, verified=True)],
                        None)
    report = json.loads(path.read_text())
    assert report["success"] is True
    assert [entry["image"] for entry in report["images"]] == ["r:1"]


def test_main_masks_secrets_first_and_reports_bad_inputs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("INPUT_", "ACTIONS_", "GITHUB_", "SIGNER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INPUT_MODE", "verify")
    monkeypatch.setenv("INPUT_IMAGES", "Bad Ref!, ok.example/r:1")
    monkeypatch.setenv("INPUT_REGISTRY_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("INPUT_GITHUB_TOKEN", "ghs_tokenvalue")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    assert run.main() == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["::add-mask::hunter2-secret", "::add-mask::ghs_tokenvalue"]
    errors = [line for line in lines if line.startswith("::error")]
    named = {line.split("'")[1] for line in errors}
    # bad reference, password without user, no repository for the default identity
    assert named == {"images", "registry-username", "certificate-identity"}
    assert not any("hunter2" in line for line in lines[2:])


def test_digest_pins_every_image_and_keeps_one_per_repository() -> None:
    digest = "sha256:" + "d" * 64
    refs = parse_images(
        ["ghcr.io/o/app:1.2.3", "ghcr.io/o/app:latest", "docker.io/o/app:1", "alpine"], digest)
    assert [str(r) for r in refs] == [f"ghcr.io/o/app@{digest}", f"docker.io/o/app@{digest}",
                                      f"docker.io/library/alpine@{digest}"]
    with pytest.raises(InputProblem) as info:
        parse_images([f"ghcr.io/o/app@sha256:{'e' * 64}", "r.example/UPPER:1"], digest)
    assert info.value.name == "images"
    assert "not the digest input" in info.value.message and "UPPER" in info.value.message


def test_without_digest_distinct_tags_are_kept() -> None:
    refs = parse_images(["r.example/a:1", "r.example/a:2", "r.example/a:1"], None)
    assert [str(r) for r in refs] == ["r.example/a:1", "r.example/a:2"]


def test_claim_inputs_narrow_the_default_or_replace_its_repository() -> None:
    inputs, problems = read_inputs(env(mode="verify", images="r:1",
                                       signer_workflow="shared/wf/.github/workflows/s.yml",
                                       deny_self_hosted_runners="true",
                                       certificate_github_workflow_trigger="push"))
    assert problems == [] and inputs is not None and inputs.policy is not None
    policy = inputs.policy
    assert policy.is_default and policy.source_repository == "https://github.com/octo-org/octo.repo"
    assert policy.signer_workflow == "https://github.com/shared/wf/.github/workflows/s.yml"
    assert policy.deny_self_hosted_runners and policy.github_workflow_trigger == "push"
    assert "signer workflow" in policy.describe() and "GitHub-hosted" in policy.describe()
    other, problems = read_inputs(env(mode="verify", images="r:1", source_repository="a/b",
                                      certificate_oidc_issuer="https://issuer.example"))
    assert problems == [] and other is not None and other.policy is not None
    assert not other.policy.is_default
    assert other.policy.source_repository == "https://github.com/a/b"


def test_claim_inputs_follow_the_server_url_and_refuse_malformed_values() -> None:
    values = env(mode="verify", images="r:1", source_repository="a/b",
                 certificate_oidc_issuer="https://ghe.example/_services/token")
    values["SIGNER_GITHUB_SERVER_URL"] = "https://ghe.example"
    inputs, _ = read_inputs(values)
    assert inputs is not None and inputs.policy is not None
    assert inputs.policy.source_repository == "https://ghe.example/a/b"
    assert "source-repository" in problems_of(env(mode="verify", images="r:1",
                                                  source_repository="not-a-repo"))
    assert "signer-workflow" in problems_of(env(mode="verify", images="r:1",
                                                signer_workflow="o/r"))
    assert "deny-self-hosted-runners" in problems_of(env(mode="verify", images="r:1",
                                                         deny_self_hosted_runners="maybe"))
    # source-repository names who signed: with it, an issuer is required
    assert "certificate-oidc-issuer" in problems_of(env(mode="verify", images="r:1",
                                                        source_repository="a/b"))
    # sign mode verifies against its own certificate; claims alone are refused there
    assert "certificate-identity" in problems_of(env(images="r:1", source_ref="refs/x"))


def test_a_bug_after_an_image_verified_still_fails_the_step(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """The catch-all around the run reports a bug in one line and fails: an image that
    passed before the bug does not make the step succeed."""
    for name in list(os.environ):
        if name.startswith(("INPUT_", "ACTIONS_", "GITHUB_", "SIGNER_")):
            monkeypatch.delenv(name)
    image = "127.0.0.1:1/r/x@sha256:" + "a" * 64
    monkeypatch.setenv("INPUT_MODE", "verify")
    monkeypatch.setenv("INPUT_IMAGES", image)
    monkeypatch.setenv("INPUT_CERTIFICATE_IDENTITY", "x@example.com")
    monkeypatch.setenv("INPUT_CERTIFICATE_OIDC_ISSUER", "https://issuer.example")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))

    def verified_then_bug(self: run.ActionRun, client: object) -> list[ImageResult]:
        self.results[image] = ImageResult(image, digest="sha256:" + "a" * 64, verified=True)
        raise RuntimeError("a bug")

    monkeypatch.setattr(run.ActionRun, "run", verified_then_bug)
    assert run.main() == 1
    errors = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("::error")]
    assert errors == ["::error title=signer::internal error (RuntimeError); please report it"]
