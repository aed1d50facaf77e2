"""Issue 8.3: property-based tests -- no exception but :class:`signer.errors.Error`
escapes the public parsers, whatever the input (random bytes, random JSON, bit flips,
truncations and splices of real samples, deeply nested JSON).

Parsers: references, ``.sig`` manifests, simple-signing payloads, Rekor bundle
annotations, Sigstore bundles, in-toto statements, trusted roots, certificates (and
the Fulcio extension readers and identity policy over them), public and private key
files, identity tokens, checkpoints, Rekor log entries, Fulcio answers, registry
``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.errors import Error
from signer.formats.bundle import parse_bundle, parse_statement
from signer.formats.legacy import (
    parse_rekor_bundle,
    parse_signature_manifest,
    parse_simple_signing_payload,
)
from signer.keys import encrypt_cosign_private_key, load_private_key_bytes, load_public_key_pem
from signer.oidc import parse_identity_token
from signer.reference import parse_reference
from signer.registry.auth import parse_challenge
from signer.services.fulcio import parse_signing_certificate
from signer.services.rekor import parse_log_entry
from signer.trust import TrustedRoot, load_pem_certificates
from signer.verify import certs
from signer.verify.policy import IdentityPolicy
from signer.verify.tlog import parse_checkpoint
from tests.corpus import CONFORMANCE, LEGACY

EXAMPLES = 400  # per property; 17 properties -> about 6800 hostile inputs
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _samples() -> dict[str, bytes]:
    happy = json.loads((CONFORMANCE / "bundles/sc-happy-path-v0.3/bundle.json").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    claims = {"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore",
              "sub": "repo:o/r:ref:refs/heads/main", "exp": 4102444800, "iat": 1700000000}

    def segment(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    token = f"{segment({'alg': 'RS256', 'typ': 'JWT'})}.{segment(claims)}.c2lnbmF0dXJl"
    entry = {"24296fb24b8ad77a" + "0" * 64: {
        "body": happy["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"],
        "integratedTime": 1700000000, "logID": "c0d23d6a" + "0" * 56, "logIndex": 1,
        "verification": {"signedEntryTimestamp": "MEUCIQ==", "inclusionProof": {
            "logIndex": 1, "treeSize": 2, "rootHash": "00" * 32, "hashes": ["11" * 32],
            "checkpoint": "origin\n2\nAAAA\n\n— origin abc=\n"}}}}
    return {
        "manifest": (LEGACY / "salr-dockerhub-sig-manifest-keyless-valid"
                     / "sig-manifest.published.json").read_bytes(),
        "payload": (LEGACY / "cimg-fulcio-rekor-valid/payload.json").read_bytes(),
        "rekor_bundle": (LEGACY / "cimg-fulcio-rekor-valid/bundle.json").read_bytes(),
        "bundle": json.dumps(happy).encode(),
        "statement": base64.b64decode(json.loads(
            (CONFORMANCE / "bundles/sc-happy-path-intoto-in-dsse-v3/bundle.json").read_bytes())
            ["dsseEnvelope"]["payload"]),
        "trusted_root": (CONFORMANCE / "trust/public-good-trusted_root.json").read_bytes(),
        "certificate": (LEGACY / "cimg-fulcio-rekor-valid/certificate.pem").read_bytes()
        + (LEGACY / "cimg-fulcio-rekor-valid/chain.pem").read_bytes(),
        "public_key": key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "private_key": pkcs8,
        "cosign_key": encrypt_cosign_private_key(key, b"pw"),
        "token": token.encode(),
        "checkpoint": happy["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
        ["checkpoint"]["envelope"].encode(),
        "log_entry": json.dumps(entry).encode(),
        "fulcio": json.dumps({"signedCertificateEmbeddedSct": {"chain": {"certificates": [
            p + "-----END CERTIFICATE-----\n" for p in (LEGACY / "cimg-fulcio-rekor-valid"
                                                        / "chain.pem").read_text()
            .split("-----END CERTIFICATE-----\n") if p.strip()]}}}).encode(),
        "challenge": b'Bearer realm="https://auth.example/token",service="registry",'
                     b'scope="repository:o/r:pull"',
    }


SAMPLES = _samples()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _certificate_readers(data: bytes) -> None:
    policy = IdentityPolicy(identity="x@example.com", issuer="https://issuer.example")
    for cert in load_pem_certificates(data, "certificate"):
        assert isinstance(cert, x509.Certificate)
        certs.oidc_issuer(cert)
        certs.subject_alternative_names(cert)
        certs.github_extensions(cert)
        certs.certificate_subject(cert)
        certs.has_embedded_scts(cert)
        with contextlib.suppress(Error):
            policy.check(cert)


def _log_entry(data: bytes) -> None:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return
    parse_log_entry(document)


PARSERS: dict[str, Callable[[bytes], object]] = {
    "manifest": parse_signature_manifest,
    "payload": parse_simple_signing_payload,
    "rekor_bundle": parse_rekor_bundle,
    "bundle": parse_bundle,
    "statement": parse_statement,
    "trusted_root": TrustedRoot.from_bytes,
    "certificate": _certificate_readers,
    "public_key": load_public_key_pem,
    "private_key": lambda data: load_private_key_bytes(data, None),
    "cosign_key": lambda data: load_private_key_bytes(data, b"pw"),
    "token": lambda data: parse_identity_token(_text(data), now=1700000001),
    "checkpoint": lambda data: parse_checkpoint(_text(data)),
    "log_entry": _log_entry,
    "fulcio": parse_signing_certificate,
    "challenge": lambda data: parse_challenge(_text(data)),
}


def _only_signer_errors(parser: Callable[[bytes], object], data: bytes) -> None:
    try:
        parser(data)
    except Error as error:
        assert error.message and "\n" not in error.message
    # any other exception propagates and fails the property


@st.composite
def mutated(draw: st.DrawFn, sample: bytes) -> bytes:
    """A real sample with bit flips, a truncation, a splice or a duplicated slice."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        data[position] ^= 1 << draw(st.integers(0, 7))
    action = draw(st.sampled_from(["none", "truncate", "splice", "repeat"]))
    if action == "truncate" and data:
        data = data[:draw(st.integers(0, len(data)))]
    elif action == "splice":
        position = draw(st.integers(0, len(data)))
        data[position:position] = draw(st.binary(max_size=64))
    elif action == "repeat" and data:
        start = draw(st.integers(0, len(data) - 1))
        data[start:start] = data[start:start + draw(st.integers(1, 200))] * 3
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from([
        "mediaType", "layers", "config", "digest", "size", "annotations", "schemaVersion",
        "verificationMaterial", "tlogEntries", "certificate", "rawBytes", "critical",
        "identity", "image", "type", "optional", "Payload", "body", "logIndex",
        "SignedEntryTimestamp", "cas", "tlogs", "certChain", "publicKey", "validFor",
        "dsseEnvelope", "messageSignature", "signature", "chain", "certificates",
        "verification", "inclusionProof", "hashes", "subject", "predicateType", "_type"])
        | st.text(max_size=8), children, max_size=5),
    max_leaves=20)


def _inputs(name: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(SAMPLES[name]),
        st.binary(max_size=512),
        json_values.map(lambda value: json.dumps(value).encode()),
    )


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parser_raises_only_signer_errors(name: str) -> None:
    parser = PARSERS[name]

    @SETTINGS
    @given(data=_inputs(name))
    def check(data: bytes) -> None:
        _only_signer_errors(parser, data)

    check()


#: The log_entry sample is synthetic: only its shape matters, it is not meant to parse.
@pytest.mark.parametrize("name", sorted(set(PARSERS) - {"log_entry"}))
def test_samples_parse(name: str) -> None:
    """The unmutated samples are accepted (so the properties exercise real parsing)."""
    if name in ("token",):
        parse_identity_token(SAMPLES[name].decode(), now=1700000001)
        return
    PARSERS[name](SAMPLES[name])


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json(name: str, depth: int) -> None:
    """Regression (found by hardening): RecursionError escaped every JSON parser."""
    for document in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        _only_signer_errors(PARSERS[name], document)


@SETTINGS
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
       | st.from_regex(r"[a-zA-Z0-9.:/@_\-]{0,200}", fullmatch=True))
def test_reference_parser(text: str) -> None:
    try:
        ref = parse_reference(text)
    except Error as error:
        assert "\n" not in error.message
        return
    # a parsed reference round-trips
    assert parse_reference(str(ref)) == ref


@SETTINGS
@given(header=st.text(max_size=300), segments=st.lists(st.binary(max_size=80), max_size=4))
def test_token_parser(header: str, segments: list[bytes]) -> None:
    raw = ".".join(base64.urlsafe_b64encode(s).decode().rstrip("=") for s in segments)
    for candidate in (header, raw):
        try:
            parse_identity_token(candidate, now=1700000001)
        except Error as error:
            assert "\n" not in error.message


def test_malformed_certificate_extension_is_a_failed_check() -> None:
    """Regression (found by hardening): a leaf whose SAN extension is malformed parsed,
    then raised ValueError inside the chain check (CLI: "internal error")."""
    from signer.formats.legacy import ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, SignatureLayer
    from signer.verify.verifier import verify_signatures
    from tests.unit.verify.cases import image_cases
    from tests.unit.verify.test_conformance_pure import _policy, _trust

    case = next(c for c in image_cases() if c.name == "cimg-fulcio-rekor-valid")
    layer = case.layers[0]
    pem = layer.annotations[ANNOTATION_CERTIFICATE]
    der = bytearray(base64.b64decode("".join(
        line for line in pem.splitlines() if not line.startswith("-----"))))
    san = der.find(bytes.fromhex("0603551d11"))  # OID 2.5.29.17
    octets = der.find(b"\x04", san + 5)
    der[octets + 2] ^= 0x80  # the SAN SEQUENCE tag 0x30 becomes a context-specific tag
    hostile = ("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(der)).decode()
               + "-----END CERTIFICATE-----\n")
    annotations = {k: v for k, v in layer.annotations.items() if k != ANNOTATION_CHAIN}
    annotations[ANNOTATION_CERTIFICATE] = hostile
    results = verify_signatures([SignatureLayer(layer.payload, layer.media_type, annotations)],
                                case.digest, _trust(case), _policy(case).replace(ignore_tlog=True))
    assert [r.failed_check for r in results] == ["certificate"]
    with pytest.raises(Error):
        load_pem_certificates(hostile.encode(), "certificate")


@pytest.mark.parametrize("seconds", [253402300800, 67_768_036_191_676_800, 2**63 - 1])
def test_times_beyond_any_datetime(seconds: int) -> None:
    """Regression (found by hardening): an integratedTime or token 'exp' beyond year 9999
    passed the parsers and crashed datetime.fromtimestamp (OverflowError/OSError)."""
    happy = json.loads((CONFORMANCE / "bundles/sc-happy-path-v0.3/bundle.json").read_bytes())
    happy["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = str(seconds)
    rekor_bundle = json.loads(SAMPLES["rekor_bundle"])
    rekor_bundle["Payload"]["integratedTime"] = seconds
    entry = json.loads(SAMPLES["log_entry"])
    next(iter(entry.values()))["integratedTime"] = seconds
    claims = {"iss": "https://i.example", "aud": "sigstore", "sub": "x", "exp": seconds}
    token = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                     for part in ({"alg": "RS256"}, claims)) + ".c2ln"
    for parse in (lambda: parse_bundle(json.dumps(happy)),
                  lambda: parse_rekor_bundle(json.dumps(rekor_bundle)),
                  lambda: parse_log_entry(entry),
                  lambda: parse_identity_token(token, now=1700000000)):
        with pytest.raises(Error):
            parse()


@SETTINGS
@given(claims=st.dictionaries(
    st.sampled_from(["iss", "sub", "aud", "exp", "nbf", "iat", "email", "email_verified",
                     "job_workflow_ref", "repository", "ref", "sha"]),
    json_values | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True), max_size=8),
    header=json_values)
def test_token_claims_of_any_type(claims: dict[str, Any], header: Any) -> None:
    """A JWT whose header and claims hold values of any JSON type and size."""
    def segment(value: Any) -> str:
        text = json.dumps(value)  # NaN and Infinity as Python writes them
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    base = {"iss": "https://i.example", "sub": "s", "aud": "sigstore", "exp": 4102444800}
    for document in (claims, {**base, **claims}):
        token = f"{segment(header)}.{segment(document)}.c2ln"
        try:
            parse_identity_token(token, now=1700000001)
        except Error as error:
            assert "\n" not in error.message
