"""A fixture repository for ``signer gate``: images on the real registry signed by two
keys and two keyless identities on the local Sigstore stack, and the Kubernetes,
Compose, Dockerfile and workflow files that deploy them."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.dsse import Statement
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.keys import public_key_pem
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from tests.integration.bundle.test_referrers import _attach as attach_bundle
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

#: image name -> who signs it
SIGNERS: dict[str, tuple[str, ...]] = {
    "app": ("alice", "bob"),        # keys rule, threshold 2: passes
    "api": ("alice",),              # keys rule, required alice+bob: refused
    "web": ("release",),            # keyless, GitHub workflow of octo-org/octo-repo: passes
    "fork": ("fork",),              # keyless, same subject pattern, other repository: refused
    "mail": ("email",),             # keyless by an e-mail identity: refused
    "unsigned": (),                 # nothing: refused
    "tool": (),                     # warn rule: warns, does not fail the run
    "prov": ("release",),           # + SLSA provenance attestation: passes the attested rule
    "noprov": ("release",),         # + only an SPDX attestation: refused by the attested rule
}
SLSA = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
#: image name -> predicate types attested for it (Sigstore bundle referrers)
ATTESTED = {"prov": (SLSA, SPDX), "noprov": (SPDX,)}


@dataclass
class FixtureRepo:
    """The files, the policy and what each image is expected to give."""

    root: Path
    policy: Path
    trusted_root: Path
    registry: str
    images: dict[str, Reference]  # name -> tag reference
    digests: dict[str, str]


def _pem(text: bytes, indent: int) -> str:
    return textwrap.indent(text.decode(), " " * indent)


def _public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def write_policy(path: Path, registry: str, alice: bytes, bob: bytes, stack: Stack,
                 trust: TrustedRoot) -> None:
    """The cluster's Connaisseur values.yaml for the fixture images.

    The keyless validator carries the stack's trust material in ``host`` (Fulcio CA,
    Rekor and CT log keys), so it verifies even when the base trust is public good.
    """
    rekor = next(log for log in trust.tlogs if log.base_url.rstrip("/") ==
                 stack.rekor_url.rstrip("/"))
    fulcio = b"".join(c.public_bytes(serialization.Encoding.PEM)
                      for c in trust.certificate_authorities[0].chain)
    path.write_text(f"""\
# Connaisseur values.yaml of the cluster (only the application section matters)
deployment:
  replicasCount: 3
application:
  validators:
  - name: allow
    type: static
    approve: true
  - name: deny
    type: static
    approve: false
  - name: keys
    type: cosign
    trustRoots:
    - name: alice
      key: |
{_pem(alice, 8)}
    - name: bob
      key: |
{_pem(bob, 8)}
  - name: default
    type: cosign
    host:
      rekorPubkey: |
{_pem(public_key_pem(rekor.key), 8)}
      ctLogPubkey: |
{_pem(public_key_pem(trust.ctlogs[0].key), 8)}
      fulcioCert: |
{_pem(fulcio, 8)}
    trustRoots:
    - name: default
      keyless:
        issuer: {stack.oidc_issuer_url}
        subjectRegex: "^https://github\\\\.com/octo-org/"
        github:
          repository: octo-org/octo-repo
          ref: refs/heads/main
          workflow: octo-org/octo-repo/.github/workflows/release.yml
  policy:
  - pattern: "*:*"
    validator: deny
  - pattern: "registry.k8s.io/*:*"
    validator: allow
  - pattern: "{registry}/gate/*"
  - pattern: "{registry}/gate/app*"
    validator: keys
    with:
      trustRoot: "*"
      threshold: 2
  - pattern: "{registry}/gate/api*"
    validator: keys
    with:
      trustRoot: "*"
      required: [alice, bob]
  - pattern: "{registry}/gate/tool*"
    with:
      mode: warn
  - pattern: "{registry}/gate/*prov*"
    with:
      attestations:
      - predicateType: {SLSA}
""")


def write_files(root: Path, images: dict[str, Reference], digests: dict[str, str]) -> None:
    """Kubernetes, Compose, Dockerfile and workflow files naming the images."""
    def tag(name: str) -> str:
        return str(images[name])

    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "app.yaml").write_text(f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: {tag("api")}
      containers:
      - name: app
        image: {tag("app")}
      - name: sidecar
        image: registry.k8s.io/pause:3.9
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: {images["web"].repository_name}@{digests["web"]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-workload
data:
  image: {tag("unsigned")}
""")
    (root / "deploy" / "attested.yaml").write_text(f"""\
apiVersion: v1
kind: Pod
metadata:
  name: attested
spec:
  containers:
  - name: prov
    image: {tag("prov")}
  - name: noprov
    image: {tag("noprov")}
""")
    (root / "compose.yaml").write_text(f"""\
services:
  web:
    image: {tag("web")}
  mail:
    image: {tag("mail")}
  cache:
    image: docker.io/library/redis:7
  later:
    image: {images["app"].repository_name}:${{APP_TAG}}
""")
    (root / "Dockerfile").write_text(f"""\
ARG BASE={tag("app")}
FROM --platform=$BUILDPLATFORM ${{BASE}} AS build
RUN true
FROM {tag("unsigned")}
COPY --from=build /x /x
""")
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(f"""\
on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    container: {tag("fork")}
    services:
      db:
        image: {tag("tool")}
    steps:
    - uses: docker://{tag("app")}
""")


def attest(client: RegistryClient, ref: Reference, digest: str, stack: Stack,
           predicate_type: str) -> None:
    """Attach an in-toto attestation of ``predicate_type`` for ``digest``, signed keyless
    by the stack's default GitHub identity with sigstore-python (an independent writer),
    as a bundle referrer in cosign v3's layout."""
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": ref.repository_name, "digest": {"sha256": digest.split(":")[1]}}],
        "predicateType": predicate_type,
        "predicate": {"buildType": "https://example.com/test"},
    }).encode()
    context = SigningContext.from_trust_config(
        ClientTrustConfig.from_json(stack.client_trust_config_path.read_text()))
    with context.signer(IdentityToken(stack.issue_token())) as signer:
        bundle = signer.sign_dsse(Statement(statement)).to_json().encode()
    attach_bundle(client, ref, digest, bundle)


@pytest.fixture(scope="module")
def fixture_repo(registry: LocalRegistry, sigstore_stack: Stack,  # noqa: F811
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureRepo]:
    """Push, sign and describe the fixture repository (once per module)."""
    base = tmp_path_factory.mktemp("gate")
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    keys = {"alice": ec.generate_private_key(ec.SECP256R1()),
            "bob": ec.generate_private_key(ec.SECP256R1())}
    tokens = {
        "release": sigstore_stack.issue_token(),
        "fork": sigstore_stack.issue_token(
            repository="octo-org/fork",
            job_workflow_ref="octo-org/fork/.github/workflows/release.yml@refs/heads/main",
            workflow_ref="octo-org/fork/.github/workflows/release.yml@refs/heads/main"),
        "email": sigstore_stack.issue_email_token("someone@example.com"),
    }
    images: dict[str, Reference] = {}
    digests: dict[str, str] = {}
    run = base.name
    with RegistryClient(insecure=(registry.host,)) as client:
        for name, signers in SIGNERS.items():
            layout = write_oci_layout(base / f"layout-{name}", seed=f"{run}-{name}", tag="v1")
            ref = parse_reference(f"{registry.host}/gate/{name}-{run}:v1")
            for digest, blob in layout.blobs.items():
                client.upload_blob(ref, blob, digest)
            assert layout.manifest is not None and layout.media_type is not None
            client.put_manifest(ref, layout.manifest, layout.media_type)
            assert layout.digest is not None
            images[name], digests[name] = ref, layout.digest
            for signer in signers:
                common = {"fulcio_url": sigstore_stack.fulcio_url,
                          "rekor_url": sigstore_stack.rekor_url, "trusted_root": trust}
                options = (SignOptions(key=keys[signer], **common) if signer in keys  # type: ignore[arg-type]
                           else SignOptions(identity_token=tokens[signer], **common))  # type: ignore[arg-type]
                sign_images(client, [ref], options)
            for predicate_type in ATTESTED.get(name, ()):
                attest(client, ref, layout.digest, sigstore_stack, predicate_type)
    root = base / "repo"
    write_files(root, images, digests)
    policy = base / "values.yaml"
    write_policy(policy, registry.host, _public(keys["alice"]), _public(keys["bob"]),
                 sigstore_stack, trust)
    (base / "images.json").write_text(json.dumps({k: str(v) for k, v in images.items()}))
    yield FixtureRepo(root, policy, sigstore_stack.trusted_root_path, registry.host, images,
                      digests)
