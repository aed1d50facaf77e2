"""One image's ``.sig`` and its bundle referrers are looked up at the same time
(signer.fetch.verify_image): a slow registry costs the slower of the two, not both."""

from __future__ import annotations

import time

import pytest

from signer.fetch import VerifyOptions, verify_image
from signer.formats.gojson import go_json
from signer.formats.legacy import OCI_MANIFEST
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy
from tests.integration.registry.faultproxy import Fault, FaultProxy
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

DELAY = 1.0


def test_sig_and_referrers_lookups_overlap(registry: LocalRegistry,
                                           sigstore_stack: Stack) -> None:  # noqa: F811
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    with RegistryClient(insecure=(registry.host,)) as client:
        repo = parse_reference(f"{registry.host}/verify-overlap/app")
        config = go_json({"architecture": "amd64", "os": "linux", "created": "overlap",
                          "rootfs": {"type": "layers", "diff_ids": []}})
        manifest = go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "size": len(config),
                                       "digest": client.upload_blob(repo, config)},
                            "layers": []})
        digest = client.put_manifest(repo.with_tag("v1"), manifest, OCI_MANIFEST)
        sign_images(client, [repo.with_digest(digest)], SignOptions(
            identity_token=sigstore_stack.issue_token(), fulcio_url=sigstore_stack.fulcio_url,
            rekor_url=sigstore_stack.rekor_url, trusted_root=trust))
    options = VerifyOptions(trust, VerificationPolicy(identity=IdentityPolicy(
        identity=sigstore_stack.default_identity, issuer=sigstore_stack.oidc_issuer_url)))
    with FaultProxy(registry.host) as proxy, \
            RegistryClient(insecure=(proxy.host,)) as through_proxy:
        # the .sig manifest, and the referrers tag index (this registry has no API)
        proxy.faults += [Fault(kind="delay", method="GET", seconds=DELAY,
                               path=r"/manifests/sha256-[0-9a-f]{64}\.sig$"),
                         Fault(kind="delay", method="GET", seconds=DELAY,
                               path=r"/manifests/sha256-[0-9a-f]{64}$")]
        image = parse_reference(f"{proxy.host}/{repo.repository}@{digest}")
        started = time.monotonic()
        result = verify_image(through_proxy, image, options)
        elapsed = time.monotonic() - started
        assert [fault.fired for fault in proxy.faults] == [1, 1]
    assert result.verified, result.error
    assert len(result.results) == 1 and len(result.bundle_results) == 1  # both judged
    assert result.passing and result.passing_bundles  # each format passed on its own
    assert DELAY <= elapsed < 1.9 * DELAY  # one after the other it takes 2 * DELAY
