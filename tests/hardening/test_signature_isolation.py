"""Issue 13.3 (property): whatever a signature's bytes contain, its failure stays with it.

Real material is made once per module against the local stack and the real registry:
an image signed keyless by ``signer sign`` (a ``.sig`` layer), the same image signed in
cosign v3's bundle format by sigstore-python, and a second image signed with a key.
Hypothesis then puts arbitrary JSON values, text and bytes into every field of a
hostile copy -- the layer descriptor and its annotations, the Rekor bundle annotation
and the Rekor body inside it, the simple-signing payload, the certificate, the bundle
JSON and the log entry body inside it -- and judges it next to a valid signature with
the same code ``signer verify`` runs over fetched material
(:func:`signer.fetch.read_signature_layers`, :func:`signer.referrers.image_bundle_from_blob`,
:func:`signer.fetch.judge_image`), in-process. The image always verifies (exit 0); the
hostile signature fails with a one-line reason from a real check, never with the
backstop "not in a form any check can read" and never with an exception.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.errors import ImageNotFoundError
from signer.fetch import VerifyOptions, judge_image, read_signature_layers
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    SignatureLayer,
    build_signature_manifest,
)
from signer.keys import load_public_key_pem
from signer.reference import Reference
from signer.referrers import ImageBundle, image_bundle_from_blob
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy
from tests.hardening.test_hostile_parsers import json_values
from tests.hardening.test_hostile_structures import _paths, _replace
from tests.integration.bundle.test_referrers import _sign_statement
from tests.integration.verify.hostile import (
    new_image,
    sign_keyless,
    sign_with_key,
    stored_layers,
    unknown_algorithm_certificate_pem,
)
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
BACKSTOP = "any check can read"
REFERRER = "sha256:" + "ab" * 32


@dataclass(frozen=True)
class Signed:
    """One image, a valid signature of it in each format, and how to verify them."""

    image: Reference
    digest: str
    layer: SignatureLayer
    bundle_json: dict[str, Any] | None
    options: VerifyOptions


@dataclass(frozen=True)
class Material:
    keyless: Signed
    key: Signed
    certificates: tuple[str, ...]


@pytest.fixture(scope="module")
def material(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    stack = sigstore_stack
    trust = TrustedRoot.from_file(stack.trusted_root_path)
    with RegistryClient() as client:
        keyless_image = new_image(registry, client, "isolation/property-keyless")
        sign_keyless(stack, registry, keyless_image)
        [keyless_layer] = stored_layers(client, keyless_image)
        assert keyless_image.digest is not None
        bundle = _sign_statement(stack, keyless_image.digest, keyless_image.repository_name)
        key_image = new_image(registry, client, "isolation/property-key")
        public_key = sign_with_key(stack, registry, key_image, tmp_path_factory.mktemp("key"))
        [key_layer] = stored_layers(client, key_image)
    assert key_image.digest is not None
    identity = VerificationPolicy(identity=IdentityPolicy(
        identity=stack.default_identity, issuer=stack.oidc_issuer_url))
    key = VerificationPolicy(key=load_public_key_pem(Path(public_key).read_bytes(), "key"))
    leaf = keyless_layer.annotations[ANNOTATION_CERTIFICATE]
    yield Material(
        Signed(keyless_image, keyless_image.digest, keyless_layer, json.loads(bundle),
               VerifyOptions(trust, identity)),
        Signed(key_image, key_image.digest, key_layer, None, VerifyOptions(trust, key)),
        (leaf, unknown_algorithm_certificate_pem(), leaf.replace("A", "B", 1),
         "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))


# -- hostile values -------------------------------------------------------------------

hostile_values = (json_values | st.text(max_size=200)
                  | st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
                  | st.sampled_from(["\u00e9" * 64, "\x00", "sha256:" + "\u0660" * 64,
                                     "-1", "9" * 40, "\ud7ff", "\r\n::stop-commands::x"]))


def _decode_nested(document: Any, path: tuple[str, ...]) -> Any:
    """``document`` with the base64 JSON at ``path`` decoded in place (if it is)."""
    copied = copy.deepcopy(document)
    target = copied
    for part in path[:-1]:
        if not isinstance(target, dict):
            return copied
        target = target.get(part)
    if isinstance(target, dict) and isinstance(target.get(path[-1]), str):
        with contextlib.suppress(ValueError):
            target[path[-1]] = {"$b64json": json.loads(base64.b64decode(target[path[-1]]))}
    return copied


def _encode_nested(value: Any) -> Any:
    """Undo :func:`_decode_nested` wherever its marker survived the mutation."""
    if isinstance(value, dict):
        if set(value) == {"$b64json"}:
            return base64.b64encode(json.dumps(value["$b64json"]).encode()).decode()
        return {k: _encode_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_nested(v) for v in value]
    return value


def _mutate(document: Any, pick: int, value: Any) -> tuple[tuple[Any, ...], Any]:
    """(path, document with the subtree at a path chosen by ``pick`` set to ``value``)."""
    paths = _paths(document)
    path = paths[pick % len(paths)]
    return path, _encode_nested(_replace(document, path, value))


def _layer_document(layer: SignatureLayer) -> dict[str, Any]:
    """The layer as one JSON tree: its descriptor (annotations with the Rekor bundle
    and the Rekor body decoded) and its payload."""
    descriptor = layer.descriptor().to_object()
    annotations = dict(descriptor["annotations"])
    if ANNOTATION_BUNDLE in annotations:
        annotations[ANNOTATION_BUNDLE] = {"$json": _decode_nested(
            json.loads(annotations[ANNOTATION_BUNDLE]), ("Payload", "body"))}
    descriptor["annotations"] = annotations
    return {"descriptor": descriptor, "payload": json.loads(layer.payload)}


def _restore(node: Any) -> Any:
    """The Rekor bundle annotation back to JSON text (see :func:`_layer_document`)."""
    if isinstance(node, dict):
        if set(node) == {"$json"}:
            return json.dumps(node["$json"])
        return {k: _restore(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v) for v in node]
    return node


def _hostile_descriptor(layer: SignatureLayer, pick: int, value: Any,
                        raw_payload: bytes | None) -> tuple[Any, bytes]:
    """A descriptor (any JSON) and its payload blob, one field replaced by ``value``
    (or the payload by ``raw_payload``); a changed payload gets a matching digest and
    size unless the mutation was to the digest or size itself."""
    document = _layer_document(layer)
    path, mutated = _mutate(document, pick, value)
    mutated = _restore(mutated)
    if not isinstance(mutated, dict):
        return mutated, layer.payload
    if raw_payload is not None:
        payload = raw_payload
    elif path[:1] == ("payload",):
        payload = json.dumps(mutated.get("payload")).encode()
    else:
        payload = layer.payload
    descriptor = mutated.get("descriptor")
    if payload != layer.payload and isinstance(descriptor, dict) and path[1:2] not in (
            ("digest",), ("size",)):
        descriptor = {**descriptor, "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                      "size": len(payload)}
    return descriptor, payload


def _judge_layers(signed: Signed, descriptors: list[Any], blobs: dict[str, bytes],
                  bundles: list[ImageBundle] | None = None) -> Any:
    manifest, _ = build_signature_manifest([signed.layer])
    document = json.loads(manifest)
    document["layers"] = descriptors
    data = json.dumps(document).encode()

    def get_blob(digest: str) -> bytes:
        if digest not in blobs:
            raise ImageNotFoundError(f"blob unknown: {digest}")
        return blobs[digest]

    layers = read_signature_layers(data, get_blob)
    return judge_image(signed.image, signed.digest, layers, bundles or [], signed.options)


def _assert_isolated(result: Any, hostile_count: int) -> None:
    assert result.verified and result.exit_code == 0, (result.error, result.failure_lines())
    lines = result.failure_lines()
    assert len(lines) <= hostile_count
    for line in lines:
        assert "\n" not in line and "\r" not in line, line
        assert BACKSTOP not in line, line


def _layer_case(signed: Signed, origin: SignatureLayer | None = None) -> Callable[..., None]:
    """A check: a hostile copy of ``origin`` (default: the valid layer) beside the valid
    layer of ``signed``."""
    valid_descriptor = signed.layer.descriptor().to_object()

    def check(pick: int, value: Any, raw_payload: bytes | None, hostile_first: bool) -> None:
        descriptor, payload = _hostile_descriptor(origin or signed.layer, pick, value,
                                                  raw_payload)
        blobs = {valid_descriptor["digest"]: signed.layer.payload,
                 "sha256:" + hashlib.sha256(payload).hexdigest(): payload}
        order = [descriptor, valid_descriptor] if hostile_first else [
            valid_descriptor, descriptor]
        _assert_isolated(_judge_layers(signed, order, blobs), 1)
        alone = _judge_layers(signed, [descriptor], blobs)  # judged without a crash
        for line in alone.failure_lines():
            assert BACKSTOP not in line and "\n" not in line, line

    return check


raw_payloads = st.none() | st.none() | st.binary(max_size=300)


def test_hostile_sig_layer_beside_a_valid_keyless_signature(material: Material) -> None:
    check = _layer_case(material.keyless)

    @SETTINGS
    @given(pick=st.integers(0, 10_000), value=hostile_values, raw_payload=raw_payloads,
           hostile_first=st.booleans())
    def run(pick: int, value: Any, raw_payload: bytes | None, hostile_first: bool) -> None:
        check(pick, value, raw_payload, hostile_first)

    run()


def test_hostile_sig_layer_beside_a_valid_key_signature(material: Material) -> None:
    signed = material.key

    @SETTINGS
    @given(pick=st.integers(0, 10_000), value=hostile_values | st.sampled_from(
        material.certificates), raw_payload=raw_payloads, hostile_first=st.booleans(),
        certificate=st.none() | st.sampled_from(material.certificates))
    def run(pick: int, value: Any, raw_payload: bytes | None, hostile_first: bool,
            certificate: str | None) -> None:
        layer = signed.layer
        if certificate is not None:  # the key-mode crash: a certificate beside the key
            layer = SignatureLayer(layer.payload, layer.media_type,
                                   {**layer.annotations, ANNOTATION_CERTIFICATE: certificate})
        hostile = Signed(signed.image, signed.digest, layer, None, signed.options)
        _layer_case(signed, hostile.layer)(pick, value, raw_payload, hostile_first)

    run()


def _bundle_document(bundle: dict[str, Any]) -> Any:
    """The bundle as one JSON tree, its log entry bodies and DSSE statement decoded."""
    document = copy.deepcopy(bundle)
    for entry in document.get("verificationMaterial", {}).get("tlogEntries", []):
        if isinstance(entry.get("canonicalizedBody"), str):
            entry["canonicalizedBody"] = {"$b64json": json.loads(
                base64.b64decode(entry["canonicalizedBody"]))}
    envelope = document.get("dsseEnvelope")
    if isinstance(envelope, dict) and isinstance(envelope.get("payload"), str):
        envelope["payload"] = {"$b64json": json.loads(base64.b64decode(envelope["payload"]))}
    return document


def test_hostile_bundle_beside_valid_signatures(material: Material) -> None:
    signed = material.keyless
    assert signed.bundle_json is not None
    document = _bundle_document(signed.bundle_json)
    valid = image_bundle_from_blob(REFERRER, REFERRER, json.dumps(signed.bundle_json).encode())
    assert valid is not None and valid.bundle is not None
    valid_descriptor = signed.layer.descriptor().to_object()
    blobs = {valid_descriptor["digest"]: signed.layer.payload}

    @SETTINGS
    @given(pick=st.integers(0, 10_000), value=hostile_values,
           raw=st.none() | st.none() | st.binary(max_size=300), beside=st.sampled_from(
               ["bundle", "sig", "both"]))
    def run(pick: int, value: Any, raw: bytes | None, beside: str) -> None:
        blob = raw if raw is not None else json.dumps(_mutate(document, pick, value)[1]).encode()
        hostile = image_bundle_from_blob(REFERRER, REFERRER, blob)
        bundles = [hostile] if hostile is not None else []
        if beside in ("bundle", "both"):
            bundles = [*bundles, valid]
        layers = [valid_descriptor] if beside in ("sig", "both") else []
        result = _judge_layers(signed, layers, blobs, bundles)
        _assert_isolated(result, 1)

    run()
