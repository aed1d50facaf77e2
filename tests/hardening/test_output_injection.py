"""Issue 13.2: text from outside cannot write into a terminal, a CI log or a step's files.

An injection corpus (workflow commands after CR/LF/NEL/U+2028, ANSI escape sequences,
C0/C1 controls, bidi overrides, Markdown/HTML metacharacters) is put into every field
an attacker controls that we can reach end to end:

* a ``.sig`` layer pushed straight into the real registry: a self-signed certificate
  whose subject is the corpus, a fake SET and a Rekor body whose hash value is the
  corpus (no Sigstore access needed), a payload whose claims are the corpus;
* a genuine signature by the attacker's own identity from the local Sigstore stack,
  whose token claims (workflow path, workflow name, ref, trigger) are the corpus, so
  the certificate's SAN and GitHub extensions carry it -- verified both failing
  (another identity expected) and passing (a policy that matches it);
* registry error bodies, through a fault proxy in front of the real registry;
* bundle JSON and file names for ``verify-blob``.

Each runs through the public CLI and through the action (the runner emulator). What
the runner or a terminal would see is then checked: no line it would read as a
workflow command other than the action's own, no control character but the line
feed, the job summary's tables intact and ``GITHUB_OUTPUT`` parseable.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.formats.legacy import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    RekorBundle,
    SignatureLayer,
    build_simple_signing_payload,
    signature_annotations,
)
from signer.keys import public_key_pem
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.faultproxy import FaultProxy, Rewrite
from signer.testing.registry import LocalRegistry
from signer.testing.runner import ActionRun, parse_command_file
from signer.testing.stack import Stack
from tests.hardening.conftest import PushImage, via
from tests.integration.action.conftest import (
    GITHUB_TOKEN,
    ActionHarness,
    action,  # noqa: F401
)
from tests.integration.verify.conftest import push_signatures_to

pytestmark = pytest.mark.slow

#: the attack of the issue: CR is a line break for the runner
ISSUE_ATTACK = "x\r::add-mask::octo\r::stop-commands::zz\r"
#: everything else a log, terminal or Markdown renderer may act on
CORPUS = (ISSUE_ATTACK + "\n::set-output name=verified::true\n##[add-mask]octo"
          "\x1b[2J\x1b]0;pwned\x07\x9b31m\x85::error::fake\u2028::warning::fake\u2029"
          "::notice::fake\x0b\x0c\x1c\x7f\x00\u202egnp.exe|<img src=x onerror=alert(1)>"
          "`tick` [link](javascript:alert(1)) *bold*")
#: the corpus as it fits where only ASCII is allowed (IA5String SANs)
ASCII_CORPUS = "".join(c for c in CORPUS if ord(c) < 128)
#: the corpus as it fits a URI path (a workflow file name in a SAN), the issue's attack
#: first and no LF, which would make an error fold the whole message onto one line
WORKFLOW_CORPUS = (ISSUE_ATTACK + "\x1b[2J\x1b]0;pwned\x07\x0b\x0c\x1c\x7f##[add-mask]octo"
                   "|<img src=x onerror=alert(1)>`tick` [link](javascript:alert(1)) *bold*")
#: masks the attacker would like to register
ATTACKER_MASKS = {"octo", "zz"}
GET = frozenset({"GET"})
OUR_COMMANDS = {"add-mask", "error", "warning", "notice", "group", "endgroup"}
LINE_BREAKS = re.compile("\r\n|\r|\n")
#: line breaks and controls a terminal, a log viewer or the runner may act on
_ALLOWED_CONTROLS = {"\n"}


# --------------------------------------------------------------------------- checks


def hostile_characters(text: str) -> list[str]:
    """Every character a terminal or log viewer would act on, other than a line feed."""
    return sorted({repr(c) for c in text
                   if c not in _ALLOWED_CONTROLS
                   and (unicodedata.category(c) in ("Cc", "Zl", "Zp")
                        or "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069")})


def runner_commands(text: str) -> list[tuple[str, str]]:
    """(command, rest) of every line the runner would treat as a workflow command.

    The runner splits a step's output on CR, LF and CRLF, trims leading white space,
    and then reads ``::name ...::value`` (and the older ``##[name ...]value``).
    """
    found = []
    for line in LINE_BREAKS.split(text):
        stripped = line.lstrip()
        if stripped.startswith("::"):
            match = re.match(r"::([^\s:]*)", stripped)
            found.append((match.group(1) if match else "", stripped))
        elif stripped.startswith("##["):
            match = re.match(r"##\[([^\s\]]*)", stripped)
            found.append((match.group(1) if match else "", stripped))
    return found


def assert_terminal_safe(where: str, text: str) -> None:
    """No control character (but LF) and no line the runner would execute."""
    assert runner_commands(text) == [], (where, runner_commands(text))
    assert hostile_characters(text) == [], (where, hostile_characters(text), text)


def assert_action_log_safe(run: ActionRun, secrets: set[str]) -> None:
    """Only the action's own workflow commands; only our own secrets masked."""
    for name, line in runner_commands(run.raw_log):
        assert name.split(" ")[0] in OUR_COMMANDS, line
        if name == "add-mask":
            assert line[len("::add-mask::"):] in secrets | {m for m in run.masks
                                                            if len(m) > 40}, line
    assert not ATTACKER_MASKS & set(run.masks), run.masks
    assert "stop-commands" not in {name for name, _ in runner_commands(run.raw_log)}
    assert hostile_characters(run.raw_log) == [], hostile_characters(run.raw_log)


def assert_outputs_safe(run: ActionRun) -> None:
    """Every GITHUB_OUTPUT file parses as the runner parses it (CR is a line break
    there too) to the same values, and no value holds a control character."""
    for path in run.files:
        if not path.name.startswith("set_output"):
            continue
        text = path.read_text()
        assert "\r" not in text, text
        parse_command_file(text)
    for name, value in run.outputs.items():
        assert hostile_characters(value) == [], (name, value)
        assert "\n" not in value, (name, value)


def assert_summary_intact(summary: str) -> None:
    """Every table row has exactly two cells; no raw HTML, no broken code span."""
    assert hostile_characters(summary) == [], hostile_characters(summary)
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    assert rows
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)
        assert len(cells) == 4 and cells[0] == "" and cells[-1] == "", row
    unescaped = re.compile(r"(?<!\\)[<\[]")  # could open an HTML tag or a link
    for line in summary.splitlines():
        # a code span must close on its line: an odd run structure means it broke out
        spans = re.findall(r"(?<!\\)(`+)", line)
        assert all(spans.count(run) % 2 == 0 for run in set(spans)), line
        outside_code = re.sub(r"(`+).*?\1", "", line)
        if line.startswith("| Rekor entry | ["):  # our one link: a log index, our URL
            assert re.fullmatch(r"\| Rekor entry \| \[\d+\]\(http://127\.0\.0\.1:\d+/api/v1/"
                                r"log/entries(\?logIndex=\d+|/[0-9a-f]+)\) \|", line), line
            continue
        assert not unescaped.findall(outside_code), line
        assert "](javascript:" not in outside_code, line


@dataclass
class Streams:
    """Exit code and the exact text of both streams (CR kept: no newline translation)."""

    returncode: int
    stdout: str
    stderr: str


def cli(args: list[str], env: dict[str, str] | None = None) -> Streams:
    """``python -m signer ARGS`` as :func:`signer_cli`, reading the streams as bytes."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                         "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_ACTIONS",
                         "COSIGN_PASSWORD", "COSIGN_REPOSITORY", "SIGNER_CA_BUNDLE")}
    base.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "signer", *args], env=base,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                          check=False)
    return Streams(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                   proc.stderr.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- material


def _self_signed(key: ec.EllipticCurvePrivateKey) -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, ISSUE_ATTACK + "\x1b[2J\u2028::error::cn|<b>"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, CORPUS[-60:])])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("https://github.com/" + WORKFLOW_CORPUS)]),
                critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def hostile_layer(repository: str, digest: str) -> SignatureLayer:
    """The issue's attack: self-signed certificate, fake SET, the corpus as the Rekor
    body's hash value; the payload's claims and annotations carry it too."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = _self_signed(key)
    payload = build_simple_signing_payload(repository, digest, {"note": CORPUS})
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": ISSUE_ATTACK}},
        "signature": {"content": base64.b64encode(signature).decode(),
                      "publicKey": {"content": base64.b64encode(cert_pem).decode()}}}}
    bundle = RekorBundle(b"not a signature", base64.b64encode(json.dumps(body).encode()).decode(),
                         int(time.time()), 7, "ab" * 32)
    return SignatureLayer(payload, SIMPLE_SIGNING_MEDIA_TYPE, signature_annotations(
        signature, certificate_pem=cert_pem, chain_pem=cert_pem, rekor_bundle=bundle))


def hostile_claims() -> dict[str, str]:
    """Token claims of an attacker's own workflow whose names are the corpus."""
    workflow_path = f"octo-org/octo-repo/.github/workflows/{WORKFLOW_CORPUS}.yml"
    return {"job_workflow_ref": f"{workflow_path}@refs/heads/main",
            "workflow_ref": f"{workflow_path}@refs/heads/main",
            "workflow": CORPUS, "ref": "refs/heads/" + CORPUS, "event_name": CORPUS}


def stack_flags(stack: Stack, registry: LocalRegistry) -> list[str]:
    return ["--fulcio-url", stack.fulcio_url, "--rekor-url", stack.rekor_url,
            "--trusted-root", str(stack.trusted_root_path), "--insecure-registry",
            registry.host]


#: what ``signer sign`` printed when the hostile identity signed (keyed by repository)
SIGN_OUTPUT: dict[str, str] = {}


@pytest.fixture
def hostile_image(registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
                  direct_client: RegistryClient) -> Reference:
    """An image with a genuine signature by a hostile identity, then the forged layer."""
    ref = push_image("injection")
    digest = direct_client.resolve_digest(ref)
    token = sigstore_stack.issue_token(**hostile_claims())
    # the .sig alone (sign writes both formats by default): the forged layer joins it
    signed = cli(["sign", "--signature-format", "legacy", *stack_flags(sigstore_stack, registry),
                  str(ref)], env={"SIGSTORE_ID_TOKEN": token})
    assert signed.returncode == 0, signed.stderr
    SIGN_OUTPUT[ref.repository] = signed.stderr
    # the forged layer goes next to the genuine one
    sig_ref = ref.with_tag("sha256-" + digest.split(":")[1] + ".sig")
    from signer.formats.legacy import parse_signature_manifest

    manifest = direct_client.get_manifest(sig_ref)
    parsed = parse_signature_manifest(manifest.data)
    layers = [SignatureLayer(direct_client.get_blob(ref, d.digest), d.media_type,
                             dict(d.annotations)) for d in parsed.layers]
    layers.append(hostile_layer(ref.repository_name, digest))
    push_signatures_to(registry, direct_client, ref.repository, digest, layers)
    return ref.with_digest(digest)


def _policy_flags(stack: Stack, identity_regexp: str) -> list[str]:
    return ["--certificate-identity-regexp", identity_regexp,
            "--certificate-oidc-issuer", stack.oidc_issuer_url,
            "--trusted-root", str(stack.trusted_root_path),
            "--rekor-url", stack.rekor_url]


# --------------------------------------------------------------------------- CLI


def test_cli_sign_prints_a_hostile_identity_safely(hostile_image: Reference) -> None:
    printed = SIGN_OUTPUT[hostile_image.repository]
    assert "octo-org/octo-repo/.github/workflows/x" in printed
    assert_terminal_safe("sign stderr", printed)


def test_cli_verify_failure_lines_do_not_inject(hostile_image: Reference,
                                                sigstore_stack: Stack) -> None:
    result = cli(["verify", *_policy_flags(sigstore_stack, "^https://victim/$"),
                         str(hostile_image)])
    assert result.returncode == 12, result.stderr
    # the issue's attack: a forged Rekor body (its non-hex hash is refused as malformed
    # since issue 13.3) and the hostile identity's SAN, echoed in the identity failure
    assert "rekor body:" in result.stderr
    assert "found subjects [https://github.com/octo-org/octo-repo/.github/workflows/x" \
        in result.stderr
    assert "found subjects" in result.stderr  # and the hostile SAN
    assert "octo" in result.stderr  # shown, made harmless
    assert_terminal_safe("verify stderr", result.stderr)
    assert_terminal_safe("verify stdout", result.stdout)


@pytest.mark.parametrize("output", ["text", "json"])
def test_cli_verify_passing_hostile_identity_prints_safely(
        hostile_image: Reference, sigstore_stack: Stack, output: str) -> None:
    result = cli(["verify", *_policy_flags(
        sigstore_stack, r"^https://github\.com/octo-org/octo-repo/"), "-o", output,
        str(hostile_image)])
    assert result.returncode == 0, result.stderr
    assert_terminal_safe("verify stderr", result.stderr)
    assert_terminal_safe("verify stdout", result.stdout)
    if output == "json":
        (verified,) = json.loads(result.stdout)  # still cosign's JSON, values intact
        assert verified["optional"]["Subject"].startswith("https://github.com/octo-org/")
        assert "\r::add-mask::octo" in verified["optional"]["Subject"]
        assert verified["optional"]["githubWorkflowName"] == CORPUS
    else:
        assert "Certificate subject: https://github.com/octo-org/octo-repo/" in result.stderr
        assert "GitHub Workflow Name:" in result.stderr


def test_cli_verify_prints_a_payload_holding_lone_surrogates(
        registry: LocalRegistry, push_image: PushImage, direct_client: RegistryClient,
        tmp_path: Path) -> None:
    """A signed payload may spell a lone surrogate as a JSON escape (valid JSON, no
    valid UTF-8 for it): verify must still print cosign's JSON, the escape kept."""
    ref = push_image("injection-surrogate")
    digest = direct_client.resolve_digest(ref)
    key = ec.generate_private_key(ec.SECP256R1())
    payload = (b'{"critical":{"identity":{"docker-reference":"%s"},"image":'
               b'{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},'
               b'"optional":{"note":"\\ud800x\\udfff\\u001b[2J"}}'
               % (ref.repository_name.encode(), digest.encode()))
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    push_signatures_to(registry, direct_client, ref.repository, digest, [SignatureLayer(
        payload, SIMPLE_SIGNING_MEDIA_TYPE, signature_annotations(signature))])
    public = tmp_path / "cosign.pub"
    public.write_bytes(public_key_pem(key.public_key()))
    for output in ("json", "text"):
        result = cli(["verify", "--key", str(public), "--insecure-ignore-tlog", "-o", output,
                      str(ref.with_digest(digest))])
        assert result.returncode == 0, result.stderr
        assert_terminal_safe("verify stdout", result.stdout)
        shown = json.loads(result.stdout)  # text: the payload itself
        verified = shown[0] if output == "json" else shown
        assert verified["optional"]["note"] == "\ud800x\udfff\x1b[2J"


def test_cli_registry_error_bodies_do_not_inject(registry: LocalRegistry,
                                                 push_image: PushImage,
                                                 tmp_path: Path) -> None:
    ref = push_image("injection-registry")
    key = tmp_path / "cosign.pub"
    key.write_bytes(public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key()))
    body = json.dumps({"errors": [{"code": CORPUS, "message": CORPUS}]}).encode()
    with FaultProxy(registry.host, name="registry") as proxy:
        proxy.set_rewrite(Rewrite(path=r"/manifests/", methods=GET, status=403, body=body,
                                  headers=(("Content-Type", "application/json"),
                                           ("X-Note", ASCII_CORPUS.replace("\r", "")
                                            .replace("\n", "").replace("\x00", "")),)))
        result = cli(["verify", "--key", str(key), "--insecure-ignore-tlog",
                             str(via(ref, proxy.host))])
    assert result.returncode == 1, result.stderr
    assert "HTTP 403" in result.stderr and "octo" in result.stderr
    assert_terminal_safe("verify stderr", result.stderr)


def test_cli_verify_blob_file_names_and_bundle_json_do_not_inject(tmp_path: Path) -> None:
    artifact = tmp_path / "artifact"
    artifact.write_bytes(b"hello")
    name = CORPUS.replace("/", "").replace("\x00", "")[:200]
    broken = tmp_path / name
    broken.write_text("{not json")
    result = cli(["verify-blob", "--bundle", str(broken), "--certificate-identity",
                         "x", "--certificate-oidc-issuer", "y", str(artifact)])
    assert result.returncode == 1 and "is not valid JSON" in result.stderr, result.stderr
    assert_terminal_safe("verify-blob stderr", result.stderr)

    hostile = tmp_path / "bundle.json"
    hostile.write_text(json.dumps({"mediaType": CORPUS, "verificationMaterial": {
        "certificate": {"rawBytes": CORPUS}, "tlogEntries": [{"logIndex": CORPUS}]},
        "messageSignature": {"messageDigest": {"algorithm": CORPUS, "digest": CORPUS},
                             "signature": CORPUS}}))
    result = cli(["verify-blob", "--bundle", str(hostile), "--certificate-identity",
                         "x", "--certificate-oidc-issuer", "y", str(artifact)])
    assert result.returncode == 1, result.stderr
    assert_terminal_safe("verify-blob stderr", result.stderr)

    missing = cli(["verify-blob", "--bundle", str(tmp_path / name) + "-missing",
                          "--key", str(tmp_path / name), str(artifact)])
    assert missing.returncode != 0
    assert_terminal_safe("verify-blob stderr", missing.stderr)


# --------------------------------------------------------------------------- action


def test_action_verify_with_hostile_signatures(action: ActionHarness,  # noqa: F811
                                               hostile_image: Reference) -> None:
    trust = {"trusted-root": str(action.stack.trusted_root_path),
             "rekor-url": action.stack.rekor_url,
             "certificate-oidc-issuer": action.stack.oidc_issuer_url}
    secrets = {GITHUB_TOKEN, action.stack.token_request_token}

    refused = action.run({"mode": "verify", "images": str(hostile_image), **trust,
                          "certificate-identity": "https://victim/"})
    assert refused.exit_code == 12, refused.log
    assert "rekor body:" in refused.raw_log and "found subjects" in refused.raw_log
    assert_action_log_safe(refused, secrets)
    assert_outputs_safe(refused)
    assert_summary_intact(refused.summary)
    assert "octo" in refused.summary  # the failure is shown, made harmless

    accepted = action.run({"mode": "verify", "images": str(hostile_image), **trust,
                           "certificate-identity-regexp":
                               r"^https://github\.com/octo-org/octo-repo/"})
    assert accepted.succeeded, accepted.log
    assert accepted.outputs["verified"] == "true"
    assert accepted.outputs["certificate-identity"].startswith(
        "https://github.com/octo-org/octo-repo/.github/workflows/x")
    assert_action_log_safe(accepted, secrets)
    assert_outputs_safe(accepted)
    assert_summary_intact(accepted.summary)
    report = json.loads(Path(accepted.outputs["report"]).read_text())
    for image in report["images"]:
        for value in image.values():
            if isinstance(value, str):
                assert hostile_characters(value) == [], value


def test_action_registry_error_bodies_and_file_names(action: ActionHarness,  # noqa: F811
                                                     registry: LocalRegistry,
                                                     push_image: PushImage,
                                                     tmp_path: Path) -> None:
    ref = push_image("injection-action")
    body = json.dumps({"errors": [{"code": "DENIED", "message": CORPUS}]}).encode()
    with FaultProxy(registry.host, name="registry") as proxy:
        proxy.set_rewrite(Rewrite(path=r"/manifests/", methods=GET, status=403, body=body,
                                  headers=(("Content-Type", "application/json"),)))
        run = action.run({"mode": "verify", "images": str(via(ref, proxy.host)),
                          "public-key": public_key_pem(
                              ec.generate_private_key(ec.SECP256R1()).public_key()).decode(),
                          "trusted-root": str(action.stack.trusted_root_path),
                          "allow-insecure-registry": proxy.host})
    assert run.exit_code != 0
    assert "HTTP 403" in run.raw_log
    assert_action_log_safe(run, {GITHUB_TOKEN, action.stack.token_request_token})
    assert_outputs_safe(run)
    assert_summary_intact(run.summary)

    # a file name from the workspace (a pull request can add files) in push-from
    name = CORPUS.replace("/", "").replace("\x00", "")[:200] + ".tar"
    bad = tmp_path / name
    bad.write_text("not an image")
    pushed = action.run({"push-from": str(bad), "images": f"{registry.host}/x/y:v1",
                         **action.stack_inputs()})
    assert pushed.exit_code != 0
    assert_action_log_safe(pushed, {GITHUB_TOKEN, action.stack.token_request_token})
    assert_outputs_safe(pushed)
    assert_summary_intact(pushed.summary)


def test_action_sign_as_a_hostile_identity(action: ActionHarness,  # noqa: F811
                                           registry: LocalRegistry, tmp_path: Path) -> None:
    """The action signs with a token whose claims are the corpus (the log names the
    token's identity, the summary and outputs the certificate's): all shown harmless."""
    from signer.testing.images import write_oci_layout

    image = write_oci_layout(tmp_path / "layout", seed="injection-sign", tag="v1")
    action.stack.set_token_claims(**hostile_claims())
    try:
        run = action.run({"push-from": str(image.path),
                          "images": f"{registry.host}/injection/sign:v1",
                          "annotations": "note=x",  # a key=value input; values are ours
                          **action.stack_inputs()})
    finally:
        action.stack.set_token_claims()
    assert run.succeeded, run.log
    assert run.outputs["certificate-identity"].startswith(
        "https://github.com/octo-org/octo-repo/.github/workflows/x\\r::add-mask::octo")
    assert_action_log_safe(run, {GITHUB_TOKEN, action.stack.token_request_token})
    assert_outputs_safe(run)
    assert_summary_intact(run.summary)


def test_cli_verify_hostile_bundle_referrers(sigstore_stack: Stack,
                                            direct_client: RegistryClient,
                                            registry: LocalRegistry) -> None:
    """cosign v3 bundle referrers (made by sigstore-python) whose in-toto subject name
    and annotations are the corpus, and a referrer whose 'bundle' is hostile JSON."""
    from signer.reference import parse_reference
    from tests.integration.bundle.test_referrers import _attach, _push_image, _sign_statement

    ref = parse_reference(f"{registry.host}/injection/bundles:v1")
    digest = _push_image(direct_client, ref, "injection-bundles")
    _attach(direct_client, ref, digest, _sign_statement(
        sigstore_stack, digest, CORPUS,
        annotations={"env": CORPUS.replace("\x00", ""), CORPUS: "x"}))
    _attach(direct_client, ref, digest, json.dumps(
        {"mediaType": CORPUS, "verificationMaterial": {"certificate": {"rawBytes": CORPUS}},
         "dsseEnvelope": {"payload": CORPUS, "payloadType": CORPUS}}).encode(),
        predicate_type=CORPUS.replace("\x00", ""))
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-identity", sigstore_stack.default_identity,
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url, "--offline"]
    refused = cli([*base, "-a", "env=prod", str(ref)])
    assert refused.returncode == 12, refused.stderr
    assert "bundle 0 (referrer sha256:" in refused.stderr
    assert_terminal_safe("verify stderr", refused.stderr)
    passed = cli([*base, "-a", "env=" + CORPUS.replace("\x00", ""), str(ref)])
    assert passed.returncode == 0, passed.stderr
    assert_terminal_safe("verify stderr", passed.stderr)
    assert_terminal_safe("verify stdout", passed.stdout)
    json.loads(passed.stdout)


#: the corpus as an environment variable can hold it (no NUL)
INPUT_CORPUS = CORPUS.replace("\x00", "")


@pytest.mark.parametrize("inputs", [
    {"mode": "verify", "images": f"127.0.0.1:9/r:v1 {INPUT_CORPUS}"},
    {"mode": "verify", "images": "127.0.0.1:9/r@sha256:" + "a" * 64,
     "certificate-identity": INPUT_CORPUS, "certificate-oidc-issuer": INPUT_CORPUS},
    {"mode": "verify", "images": "127.0.0.1:9/r@sha256:" + "a" * 64,
     "certificate-identity-regexp": INPUT_CORPUS + "(", "certificate-oidc-issuer": "x"},
    {"mode": INPUT_CORPUS, "images": "127.0.0.1:9/r:v1", "digest": INPUT_CORPUS},
    {"images": "127.0.0.1:9/r:v1", "annotations": f"ok=1\nk={INPUT_CORPUS}\n{INPUT_CORPUS}",
     "signature-repository": INPUT_CORPUS, "trusted-root": INPUT_CORPUS,
     "fulcio-url": INPUT_CORPUS},
], ids=["images", "identity", "identity-regexp", "mode-digest", "annotations-paths"])
def test_action_inputs_carrying_the_corpus(action: ActionHarness,  # noqa: F811
                                           inputs: dict[str, str]) -> None:
    """A workflow that puts outside text (a pull request title, a branch name) into an
    input: refused or judged, and every echo of it is harmless."""
    run = action.run({"trusted-root": str(action.stack.trusted_root_path), **inputs})
    assert not run.succeeded
    assert "internal error" not in run.log, run.log
    assert_action_log_safe(run, {GITHUB_TOKEN, action.stack.token_request_token})
    assert_outputs_safe(run)
    if "The inputs were refused" in run.summary:  # a list of the refused inputs
        assert hostile_characters(run.summary) == [], hostile_characters(run.summary)
        for line in run.summary.splitlines():
            outside_code = re.sub(r"(`+).*?\1", "", line)
            assert not re.findall(r"(?<!\\)[<\[`]", outside_code), line
    else:
        assert_summary_intact(run.summary)
