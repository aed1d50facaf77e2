"""The cosign-legacy conformance cases as verification inputs (shared by unit and
integration tests): the signature layer, trust material, key and policies that each
case's expected.json names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    parse_signature_manifest,
)
from tests.corpus import LEGACY

IMAGE_MODES = ("legacy-keyless", "legacy-key", "legacy-pki")


@dataclass
class LegacyCase:
    """One case folder and what verifying it takes."""

    path: Path
    expected: dict[str, Any]
    layers: list[SignatureLayer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def expect_pass(self) -> bool:
        return bool(self.expected["expect"] == "pass")

    @property
    def mode(self) -> str:
        return str(self.expected["mode"])

    def file(self, key: str) -> Path | None:
        """A path named by expected.json (top-level key or under ``files``)."""
        value = self.expected.get(key)
        if value is None:
            value = self.expected.get("files", {}).get(key)
        return (self.path / value) if isinstance(value, str) else None

    @property
    def digest(self) -> str:
        """The manifest digest the signature is verified against."""
        digest = self.expected.get("manifest_digest")
        if digest:
            return str(digest)
        payload = json.loads(self.layers[0].payload)
        return str(payload["critical"]["image"]["docker-manifest-digest"])

    @property
    def require_tlog(self) -> bool:
        if self.mode == "legacy-keyless":
            return True
        return bool(self.expected.get("require_tlog", False))

    @property
    def ignore_sct(self) -> bool:
        # the private PKI has no CT log; the 2021 Fulcio leaf predates embedded SCTs
        return self.mode == "legacy-pki" or not self.expected.get("require_sct", True) or (
            self.name.startswith("srs-kubewarden"))

    @property
    def signed_identity(self) -> str:
        """The --signed-identity policy matching the case's docker_reference_policy."""
        policy = str(self.expected.get("docker_reference_policy") or "")
        reference = self.expected.get("docker_reference")
        if policy.startswith("exact reference"):
            return f"exact-reference={reference}"
        if policy.startswith("matchRepository") and reference:
            # the image now lives in the test registry, so match the signed repository
            return f"exact-repository={reference}"
        return "any"


def _layer_from_files(case: LegacyCase) -> SignatureLayer:
    files = case.expected["files"]
    annotations = {ANNOTATION_SIGNATURE: (case.path / files["signature"]).read_text().strip()}
    annotations_file = files.get("annotations")
    if annotations_file:  # the upstream layer's annotations, verbatim
        stored = json.loads((case.path / annotations_file).read_text())
        annotations = dict(stored.get("annotations", stored))
    else:
        for key, annotation in (("certificate", ANNOTATION_CERTIFICATE),
                                ("chain", ANNOTATION_CHAIN)):
            if key in files:
                annotations[annotation] = (case.path / files[key]).read_text()
        if "bundle" in files:
            annotations[ANNOTATION_BUNDLE] = (case.path / files["bundle"]).read_text().strip()
    return SignatureLayer((case.path / files["payload"]).read_bytes(),
                          SIMPLE_SIGNING_MEDIA_TYPE, annotations)


def _layers_from_manifest(case: LegacyCase) -> list[SignatureLayer]:
    files = case.expected["files"]
    manifest = parse_signature_manifest((case.path / files["sig_manifest"]).read_bytes())
    payload = (case.path / files["payload"]).read_bytes()
    return [SignatureLayer(payload, d.media_type, dict(d.annotations)) for d in manifest.layers]


def load_case(path: Path) -> LegacyCase:
    """Read a case folder."""
    case = LegacyCase(path, json.loads((path / "expected.json").read_text()))
    if case.mode in IMAGE_MODES:
        if "sig_manifest" in case.expected["files"]:
            case.layers = _layers_from_manifest(case)
        else:
            case.layers = [_layer_from_files(case)]
    return case


def all_cases() -> list[LegacyCase]:
    """Every case folder, sorted by name."""
    return [load_case(p) for p in sorted(LEGACY.iterdir()) if (p / "expected.json").exists()]


def image_cases() -> list[LegacyCase]:
    """The 22 image cases (legacy-keyless, legacy-key, legacy-pki)."""
    return [c for c in all_cases() if c.mode in IMAGE_MODES]


def cli_arguments(case: LegacyCase) -> list[str]:
    """The ``signer verify`` flags (before the image) that verify this case as named."""
    args: list[str] = []
    trusted_root = case.file("trusted_root")
    if trusted_root is not None:
        args += ["--trusted-root", str(trusted_root)]
    ca_roots = case.file("ca_roots")
    if ca_roots is not None:
        args += ["--ca-roots", str(ca_roots)]
        intermediates = case.file("ca_intermediates")
        if intermediates is not None:
            args += ["--ca-intermediates", str(intermediates)]
    key = case.file("key")
    if key is not None:
        args += ["--key", str(key)]
    else:
        args += ["--certificate-identity", str(case.expected["identity"])]
        issuer = case.expected.get("issuer")
        if issuer:
            args += ["--certificate-oidc-issuer", str(issuer)]
        else:  # no issuer extension in the certificate: accept any issuer
            args += ["--certificate-oidc-issuer-regexp", ".*"]
    if not case.require_tlog:
        args.append("--insecure-ignore-tlog")
    if case.ignore_sct:
        args.append("--insecure-ignore-sct")
    args += ["--signed-identity", case.signed_identity]
    return args


def cli_environment(case: LegacyCase) -> dict[str, str]:
    """Environment overrides: the Rekor key the case trusts (cosign's variable)."""
    rekor = case.file("rekor_public_key")
    return {"SIGSTORE_REKOR_PUBLIC_KEY": str(rekor)} if rekor is not None else {}
