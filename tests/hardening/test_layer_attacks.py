"""Hostile variations of one genuine keyless ``.sig`` layer (hand-made leaf from the
stack's real CA, real SCT and Rekor entry), pushed straight into the real registry:
each is refused by ``signer verify`` with exit 12 and the check that caught it, or
accepted where cosign accepts the same bytes."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509

from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
    build_simple_signing_payload,
)
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.services.rekor import parse_log_entry
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.crafted import Crafted, crafted_layer
from tests.integration.verify.conftest import push_plain_image, push_signatures_to, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


@dataclass
class Target:
    """An image, a genuine crafted signature of it and a second one of another image."""

    stack: Stack
    registry: LocalRegistry
    client: RegistryClient
    image: Reference
    genuine: Crafted
    other: Crafted


@pytest.fixture(scope="module")
def target(sigstore_stack: Stack, registry: LocalRegistry  # noqa: F811
           ) -> Iterator[Target]:
    with RegistryClient() as client:
        image = push_plain_image(registry, client, "layer-attacks/app")
        other = push_plain_image(registry, client, "layer-attacks/other")
        assert image.digest and other.digest
        genuine = crafted_layer(sigstore_stack, f"{registry.host}/{image.repository}",
                                image.digest)
        second = crafted_layer(sigstore_stack, f"{registry.host}/{other.repository}",
                               other.digest)
        yield Target(sigstore_stack, registry, client, image, genuine, second)


def _verify(target: Target, layer: SignatureLayer, *extra: str,
            image: Reference | None = None) -> tuple[int, str]:
    image = image or target.image
    assert image.digest
    push_signatures_to(target.registry, target.client, image.repository, image.digest, [layer])
    result = run_cli(["verify", "--trusted-root", str(target.stack.trusted_root_path),
                      "--certificate-identity", target.stack.default_identity,
                      "--certificate-oidc-issuer", target.stack.oidc_issuer_url, *extra,
                      str(image)])
    return result.returncode, result.stderr


def _annotated(layer: SignatureLayer, **values: str) -> SignatureLayer:
    return dataclasses.replace(layer, annotations={**layer.annotations, **values})


def _signature(t: Target, value: Callable[[str], str]) -> SignatureLayer:
    layer = t.genuine.layer
    return _annotated(layer, **{ANNOTATION_SIGNATURE: value(
        layer.annotations[ANNOTATION_SIGNATURE])})


def _duplicate_bundle_payload(t: Target) -> SignatureLayer:
    raw = t.genuine.layer.annotations[ANNOTATION_BUNDLE]
    payload = json.loads(raw)["Payload"]
    duplicate = raw[:-1] + ',"Payload":' + json.dumps(
        {**payload, "logIndex": payload["logIndex"] + 1}) + "}"
    return _annotated(t.genuine.layer, **{ANNOTATION_BUNDLE: duplicate})


def _certificates(t: Target, order: str) -> SignatureLayer:
    ours = t.genuine.layer.annotations[ANNOTATION_CERTIFICATE]
    theirs = t.other.layer.annotations[ANNOTATION_CERTIFICATE]
    return _annotated(t.genuine.layer, **{ANNOTATION_CERTIFICATE:
                                          ours + theirs if order == "ours" else theirs + ours})


REFUSED: dict[str, tuple[Callable[[Target], SignatureLayer], str]] = {
    "signature with a trailing space": (lambda t: _signature(t, lambda s: s + " "),
                                        "signature"),
    "signature in URL-safe base64": (lambda t: _signature(
        t, lambda s: s.replace("+", "-").replace("/", "_") if ("+" in s or "/" in s)
        else "-" + s[1:]), "signature"),
    "signature cut by one character": (lambda t: _signature(t, lambda s: s[:-1]),
                                       "signature"),
    "bundle JSON with a second Payload": (_duplicate_bundle_payload, "transparency log"),
    "another signer's certificate first": (lambda t: _certificates(t, "theirs"),
                                           "rekor body"),
    "another image's signature": (lambda t: t.other.layer, "claims"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_layer_is_refused(target: Target, name: str) -> None:
    mutate, check = REFUSED[name]
    code, err = _verify(target, mutate(target))
    assert code == 12, err
    assert f"): {check}: " in err, err


@pytest.mark.parametrize("change", [{"apiVersion": "0.0.2"}, {"apiVersion": None},
                                    {"kind": "rekord", "apiVersion": "0.0.9"}])
def test_log_entry_of_a_kind_version_rekor_never_wrote_is_refused(
        target: Target, change: dict[str, object]) -> None:
    """The log signed a body whose kind/version is not one whose layout we read
    (as if a log accepted a future version): cosign refuses an unknown version."""
    bundle = json.loads(target.genuine.layer.annotations[ANNOTATION_BUNDLE])
    body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    log = target.stack.rekor_log
    entry = parse_log_entry(log.log_entry(log.append(canonical, [])))
    layer = _annotated(target.genuine.layer,
                       **{ANNOTATION_BUNDLE: entry.rekor_bundle().to_json().decode()})
    code, err = _verify(target, layer)
    assert code == 12, err
    assert "): rekor body: " in err, err


def test_payload_digest_in_upper_case_is_another_digest(target: Target) -> None:
    """The claim names the digest as text: ``sha256:ABC…`` is not ``sha256:abc…``."""
    assert target.image.digest
    algorithm, hex_digest = target.image.digest.split(":")
    payload = build_simple_signing_payload(f"{target.registry.host}/"
                                           f"{target.image.repository}",
                                           f"{algorithm}:{hex_digest.upper()}", None)
    crafted = crafted_layer(target.stack, "unused", target.image.digest, payload=payload)
    code, err = _verify(target, crafted.layer)
    assert code == 12, err
    assert "): claims: invalid or missing digest in claim" in err


def test_absent_optional_annotation_never_matches(target: Target) -> None:
    code, err = _verify(target, target.genuine.layer, "-a", "approved=None")
    assert code == 12, err
    assert "missing or incorrect annotation 'approved'" in err


@pytest.mark.parametrize("extension", ["basic constraints CA", "name constraints"])
def test_leaf_the_ca_should_not_have_issued_is_refused(target: Target, extension: str
                                                       ) -> None:
    value: tuple[x509.ExtensionType, bool] = (
        (x509.BasicConstraints(ca=True, path_length=None), False)
        if extension == "basic constraints CA" else
        (x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")],
                              excluded_subtrees=None), True))
    assert target.image.digest
    crafted = crafted_layer(target.stack, "unused", target.image.digest,
                            payload=target.genuine.layer.payload, extra_extensions=[value])
    code, err = _verify(target, crafted.layer)
    assert code == 12, err
    assert "): certificate chain: " in err


@pytest.mark.parametrize("variant", ["extra certificate after ours", "signature + newline"])
def test_what_cosign_also_accepts(target: Target, variant: str) -> None:
    """cosign reads the first PEM certificate, and Go's base64 skips line breaks."""
    layer = (_certificates(target, "ours") if variant == "extra certificate after ours"
             else _signature(target, lambda s: s + "\n"))
    code, err = _verify(target, layer)
    assert code == 0, err
