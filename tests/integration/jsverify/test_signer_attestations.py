"""sigstore-js verifies the attestation bundles signer writes (issue 17, a second
independent reader besides sigstore-python).

``signer attest`` (the bundle read back from its OCI referrer in the real registry) and
``signer attest-blob``, through the stack's services (Rekor v1; Rekor v1 with the TSA;
Rekor v2 with the TSA): each verifies offline in sigstore-js against the stack's
trusted root with the signer's identity and carries the requested predicate type;
another image digest or file is refused, so the check can fail.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.jsverify.test_signer_bundles import SERVICES, _js, _service_flags
from tests.integration.sign.conftest import PushImage, signer_cli, skopeo_raw
from tests.sigstore_js import SigstoreJs

pytestmark = pytest.mark.slow

SPDX = "https://spdx.dev/Document"


@pytest.mark.parametrize("services", SERVICES)
def test_image_and_blob_attestations_verify_in_sigstore_js(
        services: str, registry: LocalRegistry, sigstore_stack: Stack,
        sigstore_js: SigstoreJs, push_image: PushImage, client: RegistryClient,
        tmp_path: Path) -> None:
    predicate = tmp_path / "sbom.json"
    predicate.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}))
    ref, _image = push_image(f"js-attest-{services}")
    done = signer_cli(["attest", "--type", "spdxjson", "--predicate", str(predicate),
                       *_service_flags(sigstore_stack, services),
                       "--insecure-registry", registry.host, "--output", "json", str(ref)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    attested = json.loads(done.stdout)[0]
    layer = json.loads(skopeo_raw(attested["referrer"]))["layers"][0]
    bundle = tmp_path / "attestation.sigstore.json"
    bundle.write_bytes(client.get_blob(ref, layer["digest"]))
    result = _js(sigstore_js, sigstore_stack, bundle, digest=attested["digest"])
    assert result.verified, result
    assert result.details["content"] == "dsseEnvelope"
    assert result.details["predicateType"] == SPDX
    assert result.details["tlogEntries"] == [SERVICES[services][2]]
    other = "sha256:" + hashlib.sha256(b"another image").hexdigest()
    assert not _js(sigstore_js, sigstore_stack, bundle, digest=other).verified

    artifact = tmp_path / "app.tar.gz"
    artifact.write_bytes(b"a release artifact\n")
    (tmp_path / "other").write_bytes(b"other\n")
    blob_bundle = tmp_path / "app.intoto.sigstore.json"
    done = signer_cli(["attest-blob", "--type", "spdxjson", "--predicate", str(predicate),
                       "--bundle", str(blob_bundle), *_service_flags(sigstore_stack, services),
                       str(artifact)], env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    blob = _js(sigstore_js, sigstore_stack, blob_bundle, artifact=artifact)
    assert blob.verified, blob
    assert blob.details["predicateType"] == SPDX
    assert not _js(sigstore_js, sigstore_stack, blob_bundle,
                   artifact=tmp_path / "other").verified
