"""The local timestamp authority over HTTP: a granted reply that rfc3161-client (the
parser sigstore-python uses) decodes and verifies against the chain the certchain
endpoint serves; malformed or mistyped requests are refused."""

from __future__ import annotations

import requests
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    PKIStatus,
    TimestampRequestBuilder,
    VerifierBuilder,
    decode_timestamp_response,
)

from signer.testing.stack import Stack

QUERY = {"Content-Type": "application/timestamp-query"}


def test_a_granted_timestamp_verifies_with_the_served_chain(sigstore_stack: Stack) -> None:
    request = (TimestampRequestBuilder().data(b"signature bytes").nonce(nonce=True)
               .cert_request(cert_request=True).build())
    response = requests.post(sigstore_stack.tsa_url, data=request.as_bytes(), headers=QUERY,
                             timeout=10)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/timestamp-reply"
    reply = decode_timestamp_response(response.content)
    assert reply.status == PKIStatus.GRANTED
    assert reply.tst_info.nonce == request.nonce
    assert reply.tst_info.policy.dotted_string == "1.3.6.1.4.1.57264.2"
    chain_pem = requests.get(sigstore_stack.tsa_url + "/certchain", timeout=10).content
    leaf, root = x509.load_pem_x509_certificates(chain_pem)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    verifier = (VerifierBuilder().tsa_certificate(leaf).add_root_certificate(root)
                .nonce(request.nonce).build())
    assert verifier.verify_message(reply, b"signature bytes")


def test_malformed_and_mistyped_requests_are_refused(sigstore_stack: Stack) -> None:
    bad = requests.post(sigstore_stack.tsa_url, data=b"\x30\x03\x02\x01\x07", headers=QUERY,
                        timeout=10)
    assert bad.status_code == 400
    assert decode_timestamp_response(bad.content).status == PKIStatus.REJECTION
    mistyped = requests.post(sigstore_stack.tsa_url, data=b"{}", timeout=10,
                             headers={"Content-Type": "application/json"})
    assert mistyped.status_code == 415
