"""The local Fulcio over HTTP: issuance (CSR and proof of possession), the leaf profile,
the embedded SCT, and refusals with Fulcio's status codes and messages."""

from __future__ import annotations

import base64
import datetime
import hashlib
import struct
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from signer.testing.stack import Stack

INVALID_TOKEN = "There was an error processing the identity token"
INVALID_SIGNATURE = "The signature supplied in the request could not be verified"
ARC = "1.3.6.1.4.1.57264.1"


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _pop_request(key: ec.EllipticCurvePrivateKey, signed: str) -> dict[str, Any]:
    proof = key.sign(signed.encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": _pem(key)},
            "proofOfPossession": base64.b64encode(proof).decode(),
        }
    }


def _csr_request(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    return {"certificateSigningRequest": base64.b64encode(pem).decode()}


def _post(
    stack: Stack, body: dict[str, Any], token: str | None = None, header: str | None = None
) -> requests.Response:
    if token is not None:
        body = {**body, "credentials": {"oidcIdentityToken": token}}
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    return requests.post(
        f"{stack.fulcio_url}/api/v2/signingCert", json=body, headers=headers, timeout=10
    )


def _sub(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def _chain(response: requests.Response) -> list[x509.Certificate]:
    assert response.status_code == 200, response.text
    pems = response.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    assert all(p.endswith("\n") for p in pems)
    return [x509.load_pem_x509_certificate(p.encode()) for p in pems]


def _assert_refused(response: requests.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {"code": 3, "message": message, "details": []}


# -- issuance ---------------------------------------------------------------------------
def test_csr_with_token_in_header(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_token()
    chain = _chain(_post(sigstore_stack, _csr_request(key), header=f"Bearer {token}"))
    assert len(chain) == 3
    assert chain[0].public_key().public_numbers() == key.public_key().public_numbers()
    assert chain[1:] == sigstore_stack.ca.chain


def test_public_key_request_with_token_in_body(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_token()
    chain = _chain(_post(sigstore_stack, _pop_request(key, _sub(token)), token=token))
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(chain[2])


def test_leaf_profile_matches_fulcio(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_token(run_id="777", run_attempt="2", sha="ab" * 20)
    leaf = _chain(_post(sigstore_stack, _csr_request(key), header=f"Bearer {token}"))[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert leaf.subject == x509.Name([])
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(minutes=10)
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha384"
    exts = leaf.extensions
    ku = exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = exts.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    san = exts.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    workflow = "https://github.com/" + claims["job_workflow_ref"]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [workflow]
    ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = exts.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    inter_ski = sigstore_stack.ca.intermediate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    assert aki.key_identifier == inter_ski.value.digest

    def raw(n: int) -> bytes:
        ext = exts.get_extension_for_oid(x509.ObjectIdentifier(f"{ARC}.{n}"))
        assert not ext.critical
        value = ext.value
        assert isinstance(value, x509.UnrecognizedExtension)
        return value.value

    def utf8(n: int) -> str:
        data = raw(n)
        assert data[0] == 0x0C and data[1] == len(data) - 2  # DER UTF8String, short form
        return data[2:].decode()

    assert raw(1) == sigstore_stack.oidc_issuer_url.encode()
    assert raw(2) == b"push" and raw(3) == b"ab" * 20 and raw(4) == b"Release"
    assert raw(5) == b"octo-org/octo-repo" and raw(6) == b"refs/heads/main"
    assert utf8(8) == sigstore_stack.oidc_issuer_url
    assert utf8(9) == workflow
    assert utf8(11) == "github-hosted"
    assert utf8(12) == "https://github.com/octo-org/octo-repo"
    assert utf8(15) == claims["repository_id"]
    assert utf8(16) == "https://github.com/octo-org"
    assert utf8(18) == "https://github.com/" + claims["workflow_ref"]
    assert utf8(20) == "push"
    assert utf8(21) == "https://github.com/octo-org/octo-repo/actions/runs/777/attempts/2"
    assert utf8(22) == "public"
    fulcio_oids = [e.oid.dotted_string for e in exts if e.oid.dotted_string.startswith(ARC + ".")]
    assert fulcio_oids == [f"{ARC}.{n}" for n in (*range(1, 7), *range(8, 23))]
    # Order: KU, EKU, SKI, AKI, SAN, Fulcio extensions ascending, SCT list last.
    assert [e.oid.dotted_string for e in exts][:5] == [
        "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35", "2.5.29.17",
    ]  # fmt: skip
    assert list(exts)[-1].oid.dotted_string == "1.3.6.1.4.1.11129.2.4.2"


def test_embedded_sct_verifies_over_the_precertificate_tbs(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_token()
    leaf, intermediate, _root = _chain(
        _post(sigstore_stack, _csr_request(key), header=f"Bearer {token}")
    )
    scts = leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    ).value
    assert len(scts) == 1
    sct = scts[0]
    assert sct.log_id == sigstore_stack.ct_log.log_id
    issuer_key_hash = hashlib.sha256(
        intermediate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    tbs = leaf.tbs_precertificate_bytes  # cryptography's own RFC 6962 reconstruction
    timestamp_ms = round(sct.timestamp.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    signed = (
        b"\x00\x00"
        + struct.pack(">Q", timestamp_ms)
        + b"\x00\x01"
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + b"\x00\x00"
    )
    ct_key = sigstore_stack.ct_log.key.public_key()
    ct_key.verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))


def test_email_token_gets_an_email_san(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_email_token("dev@example.org")
    leaf = _chain(_post(sigstore_stack, _pop_request(key, "dev@example.org"), token=token))[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["dev@example.org"]


def test_trust_bundle_and_configuration(sigstore_stack: Stack) -> None:
    bundle = requests.get(f"{sigstore_stack.fulcio_url}/api/v2/trustBundle", timeout=10).json()
    (chain,) = bundle["chains"]
    certs = [x509.load_pem_x509_certificate(p.encode()) for p in chain["certificates"]]
    assert certs == sigstore_stack.ca.chain
    config = requests.get(f"{sigstore_stack.fulcio_url}/api/v2/configuration", timeout=10).json()
    issuers = {i["issuerUrl"]: i for i in config["issuers"]}
    github = issuers[sigstore_stack.oidc_issuer_url]
    assert github["audience"] == "sigstore" and github["challengeClaim"] == "sub"
    assert issuers[sigstore_stack.email_issuer_url]["challengeClaim"] == "email"


# -- refusals ---------------------------------------------------------------------------
def test_expired_token_is_refused(sigstore_stack: Stack) -> None:
    now = int(time.time())
    token = sigstore_stack.issue_token(iat=now - 700, nbf=now - 1000, exp=now - 400)
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=token), INVALID_TOKEN)


def test_not_yet_valid_token_is_refused(sigstore_stack: Stack) -> None:
    now = int(time.time())
    token = sigstore_stack.issue_token(nbf=now + 600, exp=now + 900)
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=token), INVALID_TOKEN)


def test_token_with_bad_signature_is_refused(sigstore_stack: Stack) -> None:
    claims = jwt.decode(sigstore_stack.issue_token(), options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        claims, other_key, algorithm="RS256", headers={"kid": sigstore_stack.issuer.kid}
    )
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=forged), INVALID_TOKEN)


def test_token_with_wrong_audience_is_refused(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token(aud="not-sigstore")
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=token), INVALID_TOKEN)


def test_token_from_unknown_issuer_is_refused(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token(iss="https://token.example.invalid")
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=token), INVALID_TOKEN)


def test_token_missing_a_template_claim_is_refused(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token(job_workflow_ref=None)
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key), token=token), INVALID_TOKEN)


def test_lowercase_bearer_prefix_is_not_stripped(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token()
    key = ec.generate_private_key(ec.SECP256R1())
    response = _post(sigstore_stack, _csr_request(key), header=f"bearer {token}")
    _assert_refused(response, INVALID_TOKEN)


def test_missing_token_is_refused(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _assert_refused(_post(sigstore_stack, _csr_request(key)), INVALID_TOKEN)


def test_failed_proof_of_possession_is_refused(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sigstore_stack.issue_token()
    response = _post(sigstore_stack, _pop_request(key, "repo:someone/else:ref:x"), token=token)
    _assert_refused(response, INVALID_SIGNATURE)
    other = ec.generate_private_key(ec.SECP256R1())
    request = _pop_request(other, _sub(token))
    request["publicKeyRequest"]["publicKey"]["content"] = _pem(key)  # proof by another key
    _assert_refused(_post(sigstore_stack, request, token=token), INVALID_SIGNATURE)


def test_csr_with_bad_signature_is_refused(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr_pem = base64.b64decode(_csr_request(key)["certificateSigningRequest"])
    der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)
    tampered = der[:-1] + bytes([der[-1] ^ 1])
    body = {"certificateSigningRequest": base64.b64encode(tampered).decode()}
    token = sigstore_stack.issue_token()
    _assert_refused(_post(sigstore_stack, body, token=token), INVALID_SIGNATURE)


def test_unparseable_inputs_get_fulcio_messages(sigstore_stack: Stack) -> None:
    token = sigstore_stack.issue_token()
    body = {"certificateSigningRequest": base64.b64encode(b"not a csr").decode()}
    _assert_refused(
        _post(sigstore_stack, body, token=token),
        "The certificate signing request could not be parsed",
    )
    body = {"publicKeyRequest": {"publicKey": {"content": "garbage"}, "proofOfPossession": ""}}
    _assert_refused(
        _post(sigstore_stack, body, token=token),
        "The public key supplied in the request could not be parsed",
    )
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak_pem = weak.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    proof = weak.sign(_sub(token).encode(), padding.PKCS1v15(), hashes.SHA256())
    body = {
        "publicKeyRequest": {
            "publicKey": {"content": weak_pem.decode()},
            "proofOfPossession": base64.b64encode(proof).decode(),
        }
    }
    _assert_refused(
        _post(sigstore_stack, body, token=token),
        "The public key supplied in the request is insecure",
    )


def test_unknown_path_is_grpc_not_found(sigstore_stack: Stack) -> None:
    response = requests.get(f"{sigstore_stack.fulcio_url}/api/v2/nothing", timeout=10)
    assert response.status_code == 404
    assert response.json()["code"] == 5


@pytest.mark.parametrize("service", ["fulcio"])
def test_requests_are_counted(sigstore_stack: Stack, service: str) -> None:
    before = sigstore_stack.services[service].request_count
    requests.get(f"{sigstore_stack.fulcio_url}/api/v2/configuration", timeout=10)
    assert sigstore_stack.services[service].request_count == before + 1


def test_ct_log_failure_is_fulcio_500(fresh_faults: Stack) -> None:
    fresh_faults.ct_log.fail_next(1)
    key = ec.generate_private_key(ec.SECP256R1())
    token = fresh_faults.issue_token()
    response = _post(fresh_faults, _csr_request(key), token=token)
    assert response.status_code == 500
    assert response.json() == {
        "code": 13,
        "message": "Error entering certificate in CTL",
        "details": [],
    }
    _chain(_post(fresh_faults, _csr_request(key), token=token))  # next one works


@pytest.mark.parametrize("kind", ["rsa3072", "p384"])
def test_other_key_types_are_certified(sigstore_stack: Stack, kind: str) -> None:
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=3072)
        if kind == "rsa3072"
        else ec.generate_private_key(ec.SECP384R1())
    )
    algorithm = hashes.SHA384() if kind == "p384" else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, algorithm)
    body = {
        "certificateSigningRequest": base64.b64encode(
            csr.public_bytes(serialization.Encoding.PEM)
        ).decode()
    }
    leaf = _chain(_post(sigstore_stack, body, token=sigstore_stack.issue_token()))[0]
    assert leaf.public_key() == key.public_key()
