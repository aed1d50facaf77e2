"""Issue 13.3: one malformed signature layer must not crash ``signer verify``.

Real signatures from the local stack, hostile layers pushed straight into the real
registry beside them. A Rekor body whose payload hash is not ASCII, and (with ``--key``)
a certificate annotation whose key algorithm is unknown, each fail only their own
signature: the valid signature beside them verifies the image, another image in the
same call is judged as usual, and nothing reads "internal error".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.verify.conftest import run_cli
from tests.integration.verify.hostile import (
    new_image,
    sign_keyless,
    sign_with_key,
    store_layers,
    stored_layers,
    unknown_algorithm_certificate_pem,
    with_certificate,
    with_rekor_body_hash,
)
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


def _json_documents(stdout: str) -> list[list[dict[str, object]]]:
    decoder, found, text = json.JSONDecoder(), [], stdout.strip()
    while text:
        document, end = decoder.raw_decode(text)
        found.append(document)
        text = text[end:].strip()
    return found


def test_non_ascii_rekor_hash_fails_only_its_signature(
        sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        registry_client: RegistryClient) -> None:
    stack = sigstore_stack
    mixed = new_image(registry, registry_client, "isolation/non-ascii-mixed")
    clean = new_image(registry, registry_client, "isolation/non-ascii-clean")
    lone = new_image(registry, registry_client, "isolation/non-ascii-lone")
    for image in (mixed, clean, lone):
        sign_keyless(stack, registry, image)
    [valid] = stored_layers(registry_client, mixed)
    store_layers(registry, registry_client, mixed,
                 [with_rekor_body_hash(valid, "\u00e9" * 64), valid])
    [lone_valid] = stored_layers(registry_client, lone)
    store_layers(registry, registry_client, lone, [with_rekor_body_hash(lone_valid, "\u00e9")])
    base = ["verify", "--offline", "--trusted-root", str(stack.trusted_root_path),
            "--certificate-identity", stack.default_identity,
            "--certificate-oidc-issuer", stack.oidc_issuer_url]

    both = run_cli([*base, str(mixed), str(clean)])
    assert "internal error" not in both.stderr
    assert both.returncode == 0, both.stderr
    documents = _json_documents(both.stdout)
    assert [len(d) for d in documents] == [1, 1]
    assert [d[0]["critical"]["image"]["docker-manifest-digest"]  # type: ignore[index]
            for d in documents] == [mixed.digest, clean.digest]
    assert "signature 0 (layer sha256:" in both.stderr
    assert "rekor body: malformed hashedrekord entry hash" in both.stderr

    alone = run_cli([*base, str(lone), str(clean)])
    assert "internal error" not in alone.stderr
    assert alone.returncode == 12, alone.stderr
    assert f"Error: no matching signatures for {lone.name}:" in alone.stderr
    assert "signature 0 (layer sha256:" in alone.stderr
    assert f"Verification for {clean.name} --" in alone.stderr
    [[element]] = _json_documents(alone.stdout)
    assert element["critical"]["image"]["docker-manifest-digest"] == clean.digest  # type: ignore[index]


def test_unknown_certificate_key_algorithm_with_key_fails_only_its_signature(
        sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        registry_client: RegistryClient, tmp_path: Path) -> None:
    stack = sigstore_stack
    mixed = new_image(registry, registry_client, "isolation/unknown-key-mixed")
    clean = new_image(registry, registry_client, "isolation/unknown-key-clean")
    lone = new_image(registry, registry_client, "isolation/unknown-key-lone")
    for image in (mixed, clean, lone):
        public_key = sign_with_key(stack, registry, image, tmp_path)
    hostile_pem = unknown_algorithm_certificate_pem()
    [valid] = stored_layers(registry_client, mixed)
    store_layers(registry, registry_client, mixed, [valid, with_certificate(valid, hostile_pem)])
    [lone_valid] = stored_layers(registry_client, lone)
    store_layers(registry, registry_client, lone, [with_certificate(lone_valid, hostile_pem)])
    base = ["verify", "--offline", "--trusted-root", str(stack.trusted_root_path),
            "--key", str(public_key)]

    both = run_cli([*base, str(mixed), str(clean)])
    assert "internal error" not in both.stderr
    assert both.returncode == 0, both.stderr
    assert [len(d) for d in _json_documents(both.stdout)] == [1, 1]
    assert "signature 1 (layer sha256:" in both.stderr
    assert "certificate: the certificate's key type is not supported" in both.stderr

    alone = run_cli([*base, str(lone), str(clean)])
    assert "internal error" not in alone.stderr
    assert alone.returncode == 12, alone.stderr
    assert "signature 0 (layer sha256:" in alone.stderr
    assert "certificate: the certificate's key type is not supported" in alone.stderr
    [[element]] = _json_documents(alone.stdout)
    assert element["critical"]["image"]["docker-manifest-digest"] == clean.digest  # type: ignore[index]
