"""cosign's legacy signature format: ``sha256-<hex>.sig`` images (layer L2).

Builds and parses the simple-signing payload, the signature layer annotations, the
Rekor bundle annotation, and the signature image's manifest and config, byte for
byte as cosign writes them (docs/cosign-format.md §1–3).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from signer.digest import Digest, check_digest, parse_digest, sha256_digest
from signer.errors import InputError, SizeLimitError
from signer.formats.gojson import go_json

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
ANNOTATION_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANNOTATION_CHAIN = "dev.sigstore.cosign/chain"
ANNOTATION_BUNDLE = "dev.sigstore.cosign/bundle"
ANNOTATION_TIMESTAMP = "dev.sigstore.cosign/rfc3161timestamp"

SIMPLE_SIGNING_TYPE = "cosign container image signature"
#: cosign readers reject signature images with more layers than this.
MAX_SIGNATURE_LAYERS = 1000
#: largest signature manifest we read.
MAX_SIGNATURE_MANIFEST_BYTES = 4 * 1024 * 1024
#: largest payload layer we read.
MAX_PAYLOAD_BYTES = 128 * 1024
_ZERO_TIME = "0001-01-01T00:00:00Z"


def signature_tag(digest: Digest | str, suffix: str = "sig") -> str:
    """The tag cosign stores signatures under: ``sha256-<hex>.sig``."""
    parsed = parse_digest(digest) if isinstance(digest, str) else digest
    return f"{parsed.tag_form}.{suffix}"


def build_simple_signing_payload(
    docker_reference: str,
    manifest_digest: Digest | str,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """The payload cosign signs: compact Go JSON, ``optional`` null or sorted strings."""
    optional: dict[str, str] | None = dict(sorted(annotations.items())) if annotations else None
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": str(manifest_digest)},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": optional,
    }
    return go_json(document)


@dataclass(frozen=True)
class SimpleSigningClaims:
    """The fields of a simple-signing payload that verification looks at."""

    docker_reference: str | None
    manifest_digest: str | None
    type: str | None
    optional: Mapping[str, Any] | None
    document: Mapping[str, Any]


def parse_simple_signing_payload(payload: bytes) -> SimpleSigningClaims:
    """Parse a payload leniently, as cosign does (unknown fields ignored)."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("signature payload is not JSON") from None
    if not isinstance(document, dict):
        raise InputError("signature payload is not a JSON object")
    critical = document.get("critical")
    critical = critical if isinstance(critical, dict) else {}
    identity = critical.get("identity")
    image = critical.get("image")
    ref = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    optional = document.get("optional")
    return SimpleSigningClaims(
        docker_reference=ref if isinstance(ref, str) else None,
        manifest_digest=digest if isinstance(digest, str) else None,
        type=critical.get("type") if isinstance(critical.get("type"), str) else None,
        optional=optional if isinstance(optional, dict) else None,
        document=document,
    )


@dataclass(frozen=True)
class RekorBundle:
    """cosign's ``dev.sigstore.cosign/bundle`` annotation: a Rekor v1 entry with its SET."""

    signed_entry_timestamp: bytes
    body: str  # base64 text exactly as Rekor returned it
    integrated_time: int
    log_index: int
    log_id: str  # lower-case hex

    def to_json(self) -> bytes:
        """Serialise as cosign does (Go struct order, SET as standard base64)."""
        return go_json({
            "SignedEntryTimestamp": base64.b64encode(self.signed_entry_timestamp).decode(),
            "Payload": {
                "body": self.body,
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            },
        })

    def to_object(self) -> dict[str, Any]:
        """The JSON object form (for ``verify`` output)."""
        result: dict[str, Any] = json.loads(self.to_json())
        return result

    def decoded_body(self) -> dict[str, Any]:
        """The canonical Rekor entry body, decoded from base64 JSON."""
        try:
            body = json.loads(base64.b64decode(self.body, validate=True))
        except (ValueError, binascii.Error, RecursionError):
            raise InputError("Rekor bundle body is not base64 JSON") from None
        if not isinstance(body, dict):
            raise InputError("Rekor bundle body is not a JSON object")
        return body


def parse_rekor_bundle(text: str | bytes) -> RekorBundle:
    """Parse the bundle annotation; every field is type-checked."""
    try:
        document = json.loads(text)
        payload = document["Payload"]
        set_bytes = base64.b64decode(document["SignedEntryTimestamp"], validate=True)
        body = payload["body"]
        integrated_time = payload["integratedTime"]
        log_index = payload["logIndex"]
        log_id = payload["logID"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise InputError("malformed Rekor bundle annotation",
                         hint="expected {SignedEntryTimestamp, Payload{body, integratedTime, "
                              "logIndex, logID}}") from None
    if not (isinstance(body, str) and isinstance(log_id, str)
            and isinstance(integrated_time, int) and isinstance(log_index, int)
            and not isinstance(integrated_time, bool) and not isinstance(log_index, bool)):
        raise InputError("malformed Rekor bundle annotation: wrong field types")
    if log_index < 0 or integrated_time < 0:
        raise InputError("malformed Rekor bundle annotation: negative log index or time")
    if integrated_time > 253402300799:  # after 9999-12-31: no datetime can hold it
        raise InputError("malformed Rekor bundle annotation: integratedTime out of range")
    return RekorBundle(set_bytes, body, integrated_time, log_index, log_id.lower())


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    size: int
    digest: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: ``artifactType`` of a referrer (OCI 1.1 referrers index entries); not serialised.
    artifact_type: str | None = None

    def to_object(self) -> dict[str, Any]:
        """Go struct order: mediaType, size, digest, annotations (sorted) if any."""
        obj: dict[str, Any] = {"mediaType": self.media_type, "size": self.size,
                               "digest": self.digest}
        if self.annotations:
            obj["annotations"] = dict(sorted(self.annotations.items()))
        return obj


@dataclass(frozen=True)
class SignatureLayer:
    """One signature: the exact payload bytes and the layer's annotations.

    ``defect`` is set (and the other fields are empty) for a layer that could not be
    read at all -- a malformed descriptor, a missing or oversized blob: it stays in its
    place so that it fails as that one signature, while the others are judged.
    """

    payload: bytes
    media_type: str
    annotations: Mapping[str, str]
    defect: str | None = None

    @classmethod
    def unreadable(cls, defect: str) -> SignatureLayer:
        """A placeholder for a layer that could not be read (see ``defect``)."""
        return cls(b"", "", {}, defect)

    @property
    def digest(self) -> str:
        """sha256 of the payload (the layer digest)."""
        return str(sha256_digest(self.payload))

    @property
    def signature_b64(self) -> str:
        """The base64 signature annotation (empty string for attestations)."""
        return self.annotations.get(ANNOTATION_SIGNATURE, "")

    @property
    def signature(self) -> bytes:
        """The raw signature bytes."""
        try:
            return base64.b64decode(self.signature_b64, validate=True)
        except (ValueError, binascii.Error):
            raise InputError("signature annotation is not valid base64") from None

    @property
    def certificate_pem(self) -> bytes | None:
        """The leaf certificate PEM, if any."""
        value = self.annotations.get(ANNOTATION_CERTIFICATE)
        return value.encode() if value else None

    @property
    def chain_pem(self) -> bytes | None:
        """Intermediates then root, PEM; None when missing or empty."""
        value = self.annotations.get(ANNOTATION_CHAIN)
        return value.encode() if value else None

    @property
    def rekor_bundle(self) -> RekorBundle | None:
        """The parsed Rekor bundle annotation, if any."""
        value = self.annotations.get(ANNOTATION_BUNDLE)
        return parse_rekor_bundle(value) if value else None

    @property
    def rfc3161_timestamp(self) -> bytes | None:
        """The DER TimeStampResp from the timestamp annotation, if any."""
        value = self.annotations.get(ANNOTATION_TIMESTAMP)
        if not value:
            return None
        try:
            return base64.b64decode(json.loads(value)["SignedRFC3161Timestamp"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
            raise InputError("malformed RFC 3161 timestamp annotation") from None

    def descriptor(self) -> Descriptor:
        """The layer descriptor for a signature manifest."""
        return Descriptor(self.media_type, len(self.payload), self.digest,
                          dict(self.annotations))


def signature_annotations(
    signature: bytes,
    *,
    certificate_pem: bytes | None = None,
    chain_pem: bytes | None = None,
    rekor_bundle: RekorBundle | None = None,
) -> dict[str, str]:
    """The annotations cosign writes on a signature layer."""
    annotations = {ANNOTATION_SIGNATURE: base64.b64encode(signature).decode()}
    if rekor_bundle is not None:
        annotations[ANNOTATION_BUNDLE] = rekor_bundle.to_json().decode()
    if certificate_pem is not None:
        annotations[ANNOTATION_CERTIFICATE] = certificate_pem.decode()
        if chain_pem is not None:
            annotations[ANNOTATION_CHAIN] = chain_pem.decode()
    return annotations


@dataclass(frozen=True)
class SignatureManifest:
    """A parsed signature image manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def _descriptor(obj: Any, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise InputError(f"malformed signature manifest: {where} is not an object")
    media_type, size, digest = obj.get("mediaType"), obj.get("size"), obj.get("digest")
    annotations = obj.get("annotations") or {}
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise InputError(f"malformed signature manifest: {where} lacks mediaType or digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(f"malformed signature manifest: {where} has an invalid size")
    if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise InputError(f"malformed signature manifest: {where} annotations are not strings")
    parse_digest(digest)
    return Descriptor(media_type, size, digest, annotations)


def _manifest_document(data: bytes, max_layers: int) -> tuple[dict[str, Any], list[Any]]:
    if len(data) > MAX_SIGNATURE_MANIFEST_BYTES:
        raise SizeLimitError("signature manifest is over the size limit")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("signature manifest is not JSON") from None
    if not isinstance(document, dict):
        raise InputError("signature manifest is not a JSON object")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise InputError("malformed signature manifest: no layers list")
    if len(layers) > max_layers:
        raise SizeLimitError(f"signature manifest has {len(layers)} layers, over the limit "
                             f"of {max_layers}")
    return document, layers


def parse_signature_manifest(
    data: bytes, max_layers: int = MAX_SIGNATURE_LAYERS
) -> SignatureManifest:
    """Parse a ``.sig`` manifest; more than ``max_layers`` layers is refused."""
    document, layers = _manifest_document(data, max_layers)
    media_type = document.get("mediaType")
    return SignatureManifest(
        media_type=media_type if isinstance(media_type, str) else OCI_MANIFEST,
        config=_descriptor(document.get("config"), "config"),
        layers=tuple(_descriptor(layer, f"layer {i}") for i, layer in enumerate(layers)),
    )


def parse_signature_layer_descriptors(
    data: bytes, max_layers: int = MAX_SIGNATURE_LAYERS
) -> list[Descriptor | InputError]:
    """The layer descriptors of a ``.sig`` manifest, for verification: a malformed
    descriptor is returned in its place as the :class:`InputError` describing it, so
    that it fails only its own signature. The manifest itself (JSON object, layer list,
    ``max_layers``) must be well formed; the config descriptor is not needed."""
    _, layers = _manifest_document(data, max_layers)
    found: list[Descriptor | InputError] = []
    for index, layer in enumerate(layers):
        try:
            found.append(_descriptor(layer, f"layer {index}"))
        except InputError as err:
            found.append(err)
    return found


def signature_layer(descriptor: Descriptor, blob: bytes) -> SignatureLayer:
    """Join a layer descriptor and its blob; the blob must match the digest."""
    if len(blob) > MAX_PAYLOAD_BYTES:
        raise SizeLimitError("signature payload is over the size limit")
    check_digest(descriptor.digest, blob, "signature layer")
    return SignatureLayer(blob, descriptor.media_type, dict(descriptor.annotations))


def build_signature_config(layer_digests: Sequence[str], created: str | None = None) -> bytes:
    """The config blob ggcr writes for a signature image (exact bytes)."""
    config: dict[str, Any] = {"architecture": ""}
    if created is not None:
        config["created"] = created
    else:
        config["created"] = _ZERO_TIME
    config["history"] = [{"created": _ZERO_TIME} for _ in layer_digests]
    config["os"] = ""
    config["rootfs"] = {"type": "layers", "diff_ids": list(layer_digests)}
    config["config"] = {}
    return go_json(config)


def build_manifest_from_descriptors(layers: Sequence[Descriptor], manifest_media_type: str,
                                    config_media_type: str) -> tuple[bytes, bytes]:
    """(manifest, config) bytes as ggcr writes them, from layer descriptors."""
    config = build_signature_config([layer.digest for layer in layers])
    config_descriptor = Descriptor(config_media_type, len(config), str(sha256_digest(config)))
    manifest = go_json({
        "schemaVersion": 2,
        "mediaType": manifest_media_type,
        "config": config_descriptor.to_object(),
        "layers": [layer.to_object() for layer in layers],
    })
    return manifest, config


def build_signature_manifest(
    layers: Sequence[SignatureLayer],
    *,
    manifest_media_type: str = OCI_MANIFEST,
    config_media_type: str | None = None,
) -> tuple[bytes, bytes]:
    """The (manifest, config) bytes of a signature image holding ``layers``."""
    if config_media_type is None:
        config_media_type = DOCKER_CONFIG if manifest_media_type == DOCKER_MANIFEST else OCI_CONFIG
    return build_manifest_from_descriptors([layer.descriptor() for layer in layers],
                                           manifest_media_type, config_media_type)
