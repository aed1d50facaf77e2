"""Round trip with our own signer against the local Sigstore stack and the real
registry: ``signer sign`` (keyless) then ``signer verify`` passes; then one thing at a
time is changed in the stored signature (or in the policy) and each change gives
exit 12 naming the check that failed."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from signer.fetch import fetch_signature_layers
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
)
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.verify.conftest import push_plain_image, push_signatures_to, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


@dataclass
class SignedPair:
    """Two images signed keylessly by ``signer sign``, and their stored signatures."""

    image: Reference
    layer: SignatureLayer
    other_layer: SignatureLayer
    stack: Stack


def _sign(stack: Stack, registry: LocalRegistry, image: Reference) -> None:
    # the .sig alone: these tests tamper with it (a bundle referrer would be preferred)
    result = run_cli(["sign", "--signature-format", "legacy", "--fulcio-url", stack.fulcio_url,
                      "--rekor-url", stack.rekor_url,
                      "--trusted-root", str(stack.trusted_root_path), "--insecure-registry",
                      registry.host, "--yes", str(image)],
                     {"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def signed(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
           registry_client: RegistryClient) -> Iterator[SignedPair]:
    image = push_plain_image(registry, registry_client, "roundtrip/app")
    other = push_plain_image(registry, registry_client, "roundtrip/other")
    _sign(sigstore_stack, registry, image)
    _sign(sigstore_stack, registry, other)
    assert image.digest and other.digest
    _, [layer] = fetch_signature_layers(registry_client, image.repository_only(), image.digest)
    _, [other_layer] = fetch_signature_layers(registry_client, other.repository_only(),
                                              other.digest)
    yield SignedPair(image, layer, other_layer, sigstore_stack)


def _verify_args(stack: Stack, identity: str | None = None, issuer: str | None = None
                 ) -> list[str]:
    return ["verify", "--trusted-root", str(stack.trusted_root_path),
            "--certificate-identity", identity or stack.default_identity,
            "--certificate-oidc-issuer", issuer or stack.oidc_issuer_url]


def test_sign_then_verify_passes(signed: SignedPair) -> None:
    result = run_cli([*_verify_args(signed.stack), str(signed.image)])
    assert result.returncode == 0, result.stderr
    [element] = json.loads(result.stdout)
    assert element["optional"]["Subject"] == signed.stack.default_identity
    assert element["optional"]["Issuer"] == signed.stack.oidc_issuer_url
    assert element["critical"]["image"]["docker-manifest-digest"] == signed.image.digest
    assert ("Existence of the claims in the transparency log was verified offline"
            in result.stderr)


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _bundle(layer: SignatureLayer, **changes: object) -> str:
    document = json.loads(layer.annotations[ANNOTATION_BUNDLE])
    document["Payload"].update(changes)
    return json.dumps(document)


def _annotated(layer: SignatureLayer, **values: str) -> SignatureLayer:
    return dataclasses.replace(layer, annotations={**layer.annotations, **values})


def _payload_byte(pair: SignedPair) -> SignatureLayer:
    payload = bytearray(pair.layer.payload)
    payload[payload.index(b"roundtrip/app")] ^= 0x20
    return dataclasses.replace(pair.layer, payload=bytes(payload))


def _set(pair: SignedPair) -> SignatureLayer:
    document = json.loads(pair.layer.annotations[ANNOTATION_BUNDLE])
    document["SignedEntryTimestamp"] = _flip(document["SignedEntryTimestamp"])
    return _annotated(pair.layer, **{ANNOTATION_BUNDLE: json.dumps(document)})


def _rekor_body(pair: SignedPair) -> SignatureLayer:
    other_body = json.loads(pair.other_layer.annotations[ANNOTATION_BUNDLE])["Payload"]["body"]
    return _annotated(pair.layer, **{ANNOTATION_BUNDLE: _bundle(pair.layer, body=other_body)})


def _log_index(pair: SignedPair) -> SignatureLayer:
    index = json.loads(pair.layer.annotations[ANNOTATION_BUNDLE])["Payload"]["logIndex"]
    return _annotated(pair.layer, **{ANNOTATION_BUNDLE: _bundle(pair.layer, logIndex=index + 1)})


def _integrated_time(pair: SignedPair) -> SignatureLayer:
    when = json.loads(pair.layer.annotations[ANNOTATION_BUNDLE])["Payload"]["integratedTime"]
    return _annotated(pair.layer, **{ANNOTATION_BUNDLE: _bundle(pair.layer,
                                                                integratedTime=when - 1)})


def _chain(pair: SignedPair) -> SignatureLayer:
    # keep only the root: the chain no longer starts with the leaf's issuer
    chain = pair.layer.annotations[ANNOTATION_CHAIN]
    root = "-----BEGIN CERTIFICATE-----" + chain.split("-----BEGIN CERTIFICATE-----")[-1]
    return _annotated(pair.layer, **{ANNOTATION_CHAIN: root})


LAYER_MUTATIONS: dict[str, tuple[Callable[[SignedPair], SignatureLayer], str]] = {
    "payload byte": (_payload_byte, "rekor body"),
    "signature": (lambda p: _annotated(p.layer, **{ANNOTATION_SIGNATURE: _flip(
        p.layer.annotations[ANNOTATION_SIGNATURE])}), "rekor body"),
    "certificate": (lambda p: _annotated(p.layer, **{
        ANNOTATION_CERTIFICATE: p.other_layer.annotations[ANNOTATION_CERTIFICATE]}),
        "rekor body"),
    "SET": (_set, "transparency log"),
    "Rekor body": (_rekor_body, "rekor body"),
    "log index": (_log_index, "transparency log"),
    "integrated time": (_integrated_time, "transparency log"),
}


@pytest.mark.parametrize("name", list(LAYER_MUTATIONS))
def test_mutated_signature_fails_named_check(name: str, signed: SignedPair,
                                             registry: LocalRegistry,
                                             registry_client: RegistryClient) -> None:
    mutate, check = LAYER_MUTATIONS[name]
    assert signed.image.digest
    repository = "roundtrip/mutated-" + name.lower().replace(" ", "-")
    image = push_signatures_to(registry, registry_client, repository, signed.image.digest,
                               [mutate(signed)])
    result = run_cli([*_verify_args(signed.stack), str(image)])
    assert result.returncode == 12, result.stderr
    assert f"): {check}: " in result.stderr, result.stderr


def test_chain_annotation_is_ignored_under_a_trusted_root(
        signed: SignedPair, registry: LocalRegistry, registry_client: RegistryClient) -> None:
    """cosign-format.md §4.2: the path comes from the trusted root's certChain, so a
    chain annotation that is not the leaf's changes nothing (issue 13 item 1)."""
    assert signed.image.digest
    image = push_signatures_to(registry, registry_client, "roundtrip/mutated-chain",
                               signed.image.digest, [_chain(signed)])
    result = run_cli([*_verify_args(signed.stack), str(image)])
    assert result.returncode == 0, result.stderr


def test_other_identity_fails_identity_check(signed: SignedPair) -> None:
    result = run_cli([*_verify_args(signed.stack, identity="https://github.com/evil/repo/"
                                    ".github/workflows/x.yml@refs/heads/main"),
                      str(signed.image)])
    assert result.returncode == 12
    assert "): identity: expected subject 'https://github.com/evil/repo/" in result.stderr
    assert f"found subjects [{signed.stack.default_identity}]" in result.stderr


def test_other_issuer_fails_identity_check(signed: SignedPair) -> None:
    result = run_cli([*_verify_args(signed.stack, issuer="https://accounts.google.com"),
                      str(signed.image)])
    assert result.returncode == 12
    assert "): identity: expected subject" in result.stderr
    assert f"with issuer {signed.stack.oidc_issuer_url}" in result.stderr


def test_signature_under_another_digest_fails_claims(signed: SignedPair,
                                                     registry: LocalRegistry,
                                                     registry_client: RegistryClient) -> None:
    other_digest = "sha256:" + "5" * 64
    image = push_signatures_to(registry, registry_client, "roundtrip/other-digest",
                               other_digest, [signed.layer])
    result = run_cli([*_verify_args(signed.stack), str(image)])
    assert result.returncode == 12
    assert "): claims: invalid or missing digest in claim" in result.stderr


def test_signature_without_bundle_is_found_in_rekor_online(
        signed: SignedPair, registry: LocalRegistry, registry_client: RegistryClient) -> None:
    assert signed.image.digest
    stripped = dataclasses.replace(signed.layer, annotations={
        k: v for k, v in signed.layer.annotations.items() if k != ANNOTATION_BUNDLE})
    image = push_signatures_to(registry, registry_client, "roundtrip/no-bundle",
                               signed.image.digest, [stripped])
    online = run_cli([*_verify_args(signed.stack), "--rekor-url", signed.stack.rekor_url,
                      str(image)])
    assert online.returncode == 0, online.stderr
    [element] = json.loads(online.stdout)
    stored = json.loads(signed.layer.annotations[ANNOTATION_BUNDLE])
    assert element["optional"]["Bundle"]["Payload"]["logIndex"] == stored["Payload"]["logIndex"]
    offline = run_cli([*_verify_args(signed.stack), "--offline", str(image)])
    assert offline.returncode == 12
    assert "): transparency log: signature not found in transparency log" in offline.stderr
    # an entry for other bytes is not accepted: the payload changed, so no entry matches
    changed = dataclasses.replace(stripped, payload=_payload_byte(signed).payload)
    other = push_signatures_to(registry, registry_client, "roundtrip/no-bundle-changed",
                               signed.image.digest, [changed])
    refused = run_cli([*_verify_args(signed.stack), "--rekor-url", signed.stack.rekor_url,
                       str(other)])
    assert refused.returncode == 12
    assert "transparency log: signature not found" in refused.stderr
