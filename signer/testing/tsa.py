"""The local RFC 3161 timestamp authority: its chain and its signed responses.

The chain is a self-signed P-384 root and a P-256 leaf with the critical
timeStamping EKU (what verifiers require, sigstore-protocols.md §6), both kept in
the stack directory. :meth:`TimestampAuthority.respond` answers a DER
``TimeStampReq`` with a DER ``TimeStampResp``: a granted ``TSTInfo`` (policy
1.3.6.1.4.1.57264.2 as Sigstore's TSA uses, the request's imprint and nonce, genTime
to the second, accuracy one second, a random serial) in a CMS ``SignedData`` whose one
``SignerInfo`` signs the contentType, signingTime, messageDigest and ESS
signingCertificateV2 attributes with ECDSA P-256/SHA-256; the leaf is included when
the request asks for it (certReq). A malformed request gets a ``rejection`` status
with the badDataFormat failure bit, as RFC 3161 §2.4.2 says.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import threading
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signer.testing import der
from signer.testing.keystore import load_or_create_key

SIGSTORE_TSA_POLICY = "1.3.6.1.4.1.57264.2"
ORGANIZATION = "signer-local"
ROOT_NAME = "signer-local-tsa-root"
LEAF_NAME = "signer-local-tsa"
LIFETIME = datetime.timedelta(days=3650)

_ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
_ATTR_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_SHA256 = "2.16.840.1.101.3.4.2.1"
_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
#: message-imprint hash algorithms accepted, by OID, with their digest sizes
_IMPRINT_SIZES = {
    _SHA256: 32,
    "2.16.840.1.101.3.4.2.2": 48,  # SHA-384
    "2.16.840.1.101.3.4.2.3": 64,  # SHA-512
}
_STATUS_GRANTED = 0
_STATUS_REJECTION = 2
_FAIL_BAD_ALG = 0
_FAIL_BAD_DATA_FORMAT = 5


class TimestampRequest(NamedTuple):
    """The parts of a ``TimeStampReq`` a response echoes."""

    imprint: bytes  # the encoded MessageImprint SEQUENCE, echoed as is
    hash_oid: str
    nonce: int | None
    cert_req: bool


class RequestError(ValueError):
    """A request the authority rejects; ``fail_bit`` is the PKIFailureInfo bit."""

    def __init__(self, message: str, fail_bit: int = _FAIL_BAD_DATA_FORMAT) -> None:
        super().__init__(message)
        self.fail_bit = fail_bit


def _decode_oid(content: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise RequestError("empty object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def parse_request(data: bytes) -> TimestampRequest:
    """Read a DER ``TimeStampReq`` (RFC 3161 §2.4.1); raises :class:`RequestError`."""
    try:
        outer = der.read(data)
        if outer.tag != der.SEQUENCE or outer.encoded != data:
            raise RequestError("the request is not one DER SEQUENCE")
        fields = der.children(outer.content)
        if len(fields) < 2 or der.decode_integer(fields[0]) != 1:
            raise RequestError("unsupported TimeStampReq version")
        imprint = fields[1]
        parts = der.children(imprint.content)
        if imprint.tag != der.SEQUENCE or len(parts) != 2 or parts[1].tag != der.OCTET_STRING:
            raise RequestError("malformed messageImprint")
        algorithm = der.children(parts[0].content)
        if not algorithm or algorithm[0].tag != der.OBJECT_IDENTIFIER:
            raise RequestError("malformed hashAlgorithm")
        hash_oid = _decode_oid(algorithm[0].content)
        size = _IMPRINT_SIZES.get(hash_oid)
        if size is None:
            raise RequestError(f"unsupported hash algorithm {hash_oid}", _FAIL_BAD_ALG)
        if len(parts[1].content) != size:
            raise RequestError("the imprint length does not match its hash algorithm")
        nonce: int | None = None
        cert_req = False
        for item in fields[2:]:
            if item.tag == der.INTEGER:
                nonce = der.decode_integer(item)
            elif item.tag == der.BOOLEAN:
                cert_req = item.content != b"\x00"
    except ValueError as error:
        if isinstance(error, RequestError):
            raise
        raise RequestError(f"malformed request: {error}") from None
    return TimestampRequest(imprint.encoded, hash_oid, nonce, cert_req)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certificates, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=sign_certificates, crl_sign=sign_certificates,
        encipher_only=False, decipher_only=False)


def _make_chain(root_key: ec.EllipticCurvePrivateKey, leaf_key: ec.EllipticCurvePrivateKey
                ) -> tuple[x509.Certificate, x509.Certificate]:
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (x509.CertificateBuilder()
            .subject_name(_name(ROOT_NAME)).issuer_name(_name(ROOT_NAME))
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + LIFETIME)
            .add_extension(_key_usage(sign_certificates=True), critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(root_ski, critical=False)
            .sign(root_key, hashes.SHA384()))
    leaf = (x509.CertificateBuilder()
            .subject_name(_name(LEAF_NAME)).issuer_name(root.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + LIFETIME)
            .add_extension(_key_usage(sign_certificates=False), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                root_ski), critical=False)
            .sign(root_key, hashes.SHA384()))
    return root, leaf


class TimestampAuthority:
    """Keys, chain and response signing of the local TSA (persisted in ``directory``)."""

    def __init__(self, directory: Path) -> None:
        root_key = load_or_create_key(directory, "tsa-root", "p384")
        leaf_key = load_or_create_key(directory, "tsa-leaf", "p256")
        assert isinstance(root_key, ec.EllipticCurvePrivateKey)
        assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
        self.key = leaf_key
        root_path, leaf_path = directory / "tsa-root.crt.pem", directory / "tsa-leaf.crt.pem"
        if root_path.exists() and leaf_path.exists():
            self.root = x509.load_pem_x509_certificate(root_path.read_bytes())
            self.leaf = x509.load_pem_x509_certificate(leaf_path.read_bytes())
        else:
            self.root, self.leaf = _make_chain(root_key, leaf_key)
            root_path.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
            leaf_path.write_bytes(self.leaf.public_bytes(serialization.Encoding.PEM))
        self.clock_skew_seconds = 0  # added to genTime (tests)
        self._lock = threading.Lock()
        self._leaf_der = self.leaf.public_bytes(serialization.Encoding.DER)

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf then root, as the trusted root lists a TSA's chain."""
        return [self.leaf, self.root]

    def chain_pem(self) -> str:
        """``GET /api/v1/timestamp/certchain``: the chain as concatenated PEM."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                       for c in self.chain)

    def respond(self, request_der: bytes) -> bytes:
        """A DER ``TimeStampResp`` for a DER ``TimeStampReq`` (granted or rejected)."""
        try:
            request = parse_request(request_der)
        except RequestError as error:
            return rejection(str(error), error.fail_bit)
        now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=self.clock_skew_seconds)
        tst_info = self._tst_info(request, now.replace(microsecond=0))
        token = self._signed_data(tst_info, now, include_certificate=request.cert_req)
        return der.sequence(der.sequence(der.integer(_STATUS_GRANTED)), token)

    def _tst_info(self, request: TimestampRequest, gen_time: datetime.datetime) -> bytes:
        fields = [
            der.integer(1),
            der.oid(SIGSTORE_TSA_POLICY),
            request.imprint,
            der.integer(secrets.randbits(64) + 1),
            der.generalized_time(gen_time),
            der.sequence(der.integer(1)),  # accuracy: one second
        ]
        if request.nonce is not None:
            fields.append(der.integer(request.nonce))
        # tsa [0] GeneralName: the leaf's subject as a directoryName ([4] EXPLICIT Name)
        fields.append(der.explicit(0, der.explicit(4, self.leaf.subject.public_bytes())))
        return der.sequence(*fields)

    def _signed_data(self, tst_info: bytes, now: datetime.datetime, *,
                     include_certificate: bool) -> bytes:
        sha256 = der.sequence(der.oid(_SHA256))
        issuer_and_serial = der.sequence(self.leaf.issuer.public_bytes(),
                                         der.integer(self.leaf.serial_number))
        ess_cert_id = der.sequence(der.octet_string(hashlib.sha256(self._leaf_der).digest()),
                                   der.sequence(der.sequence(der.explicit(
                                       4, self.leaf.issuer.public_bytes())),
                                       der.integer(self.leaf.serial_number)))
        attributes = [
            der.sequence(der.oid(_ATTR_CONTENT_TYPE), der.set_of(der.oid(_ID_CT_TST_INFO))),
            der.sequence(der.oid(_ATTR_SIGNING_TIME),
                         der.set_of(der.tlv(0x17, now.strftime("%y%m%d%H%M%SZ").encode()))),
            der.sequence(der.oid(_ATTR_MESSAGE_DIGEST),
                         der.set_of(der.octet_string(hashlib.sha256(tst_info).digest()))),
            der.sequence(der.oid(_ATTR_SIGNING_CERTIFICATE_V2),
                         der.set_of(der.sequence(der.sequence(ess_cert_id)))),
        ]
        signed_attributes = der.set_of(*attributes)  # signed as a SET (RFC 5652 §5.4)
        with self._lock:
            signature = self.key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
        signer_info = der.sequence(
            der.integer(1),
            issuer_and_serial,
            sha256,
            der.implicit_constructed(0, signed_attributes),
            der.sequence(der.oid(_ECDSA_WITH_SHA256)),
            der.octet_string(signature),
        )
        content = [
            der.integer(3),
            der.set_of(sha256),
            der.sequence(der.oid(_ID_CT_TST_INFO), der.explicit(0, der.octet_string(tst_info))),
        ]
        if include_certificate:
            content.append(der.explicit(0, self._leaf_der))  # certificates [0] IMPLICIT SET
        content.append(der.set_of(signer_info))
        return der.sequence(der.oid(_ID_SIGNED_DATA), der.explicit(0, der.sequence(*content)))


def rejection(text: str, fail_bit: int) -> bytes:
    """A ``TimeStampResp`` with status rejection, a status string and one failure bit."""
    byte_index, bit = divmod(fail_bit, 8)
    bits = bytearray(byte_index + 1)
    bits[byte_index] = 0x80 >> bit
    unused = 7 - bit
    fail_info = der.tlv(0x03, bytes([unused]) + bytes(bits))
    status_string = der.sequence(der.tlv(0x0C, text.encode("utf-8")))
    return der.sequence(der.sequence(der.integer(_STATUS_REJECTION), status_string, fail_info))
