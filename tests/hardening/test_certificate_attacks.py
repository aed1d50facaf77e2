"""Certificates the stack's real CA issued with something Fulcio would never put in
them (an attacker's view of a CA quirk), pushed as ``.sig`` layers into the real
registry and judged by ``signer verify`` as cosign's Go x509 path validation would."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.crafted import crafted_layer
from tests.integration.verify.conftest import push_plain_image, push_signatures_to, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

UNKNOWN = ObjectIdentifier("1.3.6.1.4.1.57264.99.1")


def _verify_crafted(stack: Stack, registry: LocalRegistry, name: str,
                    extensions: list[tuple[x509.ExtensionType, bool]]) -> tuple[int, str]:
    with RegistryClient() as client:
        image = push_plain_image(registry, client, f"cert-attacks/{name}")
        assert image.digest
        crafted = crafted_layer(stack, f"{registry.host}/{image.repository}", image.digest,
                                extra_extensions=extensions)
        push_signatures_to(registry, client, image.repository, image.digest, [crafted.layer])
    result = run_cli(["verify", "--trusted-root", str(stack.trusted_root_path),
                      "--certificate-identity", stack.default_identity,
                      "--certificate-oidc-issuer", stack.oidc_issuer_url, str(image)])
    return result.returncode, result.stderr


def test_crafted_leaf_without_extras_verifies(sigstore_stack: Stack,  # noqa: F811
                                              registry: LocalRegistry) -> None:
    """Control: the crafting itself yields a signature signer accepts."""
    code, err = _verify_crafted(sigstore_stack, registry, "control", [])
    assert code == 0, err


@pytest.mark.parametrize("critical", [True, False])
def test_unknown_critical_extension_is_refused(sigstore_stack: Stack,  # noqa: F811
                                               registry: LocalRegistry,
                                               critical: bool) -> None:
    """RFC 5280 §4.2 (and Go's x509, hence cosign): a certificate with a critical
    extension the verifier does not process is rejected; a non-critical one is not."""
    code, err = _verify_crafted(
        sigstore_stack, registry, f"unknown-critical-{critical}".lower(),
        [(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), critical)])
    if critical:
        assert code == 12, err
        assert "certificate chain" in err and "critical extension" in err
    else:
        assert code == 0, err


def test_sct_from_a_log_outside_the_trusted_root_is_refused(
        sigstore_stack: Stack, registry: LocalRegistry) -> None:  # noqa: F811
    """The leaf is genuine, but its SCT comes from a CT log the trusted root does not
    name: refused unless --insecure-ignore-sct."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from signer.testing.ctlog import CtLog

    with RegistryClient() as client:
        image = push_plain_image(registry, client, "cert-attacks/rogue-ct-log")
        assert image.digest
        crafted = crafted_layer(sigstore_stack, f"{registry.host}/{image.repository}",
                                image.digest,
                                ct_log=CtLog(ec.generate_private_key(ec.SECP256R1())))
        push_signatures_to(registry, client, image.repository, image.digest, [crafted.layer])
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-identity", sigstore_stack.default_identity,
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    refused = run_cli([*base, str(image)])
    assert refused.returncode == 12, refused.stderr
    assert "): SCT: unknown CT log" in refused.stderr
    assert run_cli([*base, "--insecure-ignore-sct", str(image)]).returncode == 0
