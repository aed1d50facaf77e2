"""What one run of the action signs and verifies with (layer L5): the key, the OIDC
token, the trusted root and the library's verification policy, each loaded from the
inputs when first needed, with its problems as :class:`signer.errors.Error`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signer.action.console import Console
from signer.action.inputs import Inputs
from signer.action.policy import SIGNING_KEY, VerifyPolicy
from signer.action.values import is_pem


class RunMaterial:
    """Keys, token, trust and policy for one run (the TUF root is fetched once)."""

    def __init__(self, inputs: Inputs, env: Mapping[str, str], console: Console) -> None:
        self.inputs = inputs
        self.env = env
        self.console = console
        self._tuf: Any = None  # the TUF repository's trust material, once fetched

    def verification_policy(self, policy: VerifyPolicy | None) -> Any:
        """The library policy for ``policy`` (identity, public key or the signing key);
        cosign's policy pitfalls are warned about, named as the inputs."""
        from signer.errors import UsageError
        from signer.verify.policy import identity_warnings
        from signer.verify.verifier import VerificationPolicy

        ignore_tlog = self.inputs.insecure_ignore_tlog or (
            self.inputs.mode == "sign" and not self.inputs.tlog_upload)
        if policy is None:
            raise UsageError("no verification policy",
                             hint="give certificate-identity and certificate-oidc-issuer, "
                                  "or public-key")
        if policy.public_key:
            return VerificationPolicy(key=self.public_key(policy.public_key),
                                      ignore_tlog=ignore_tlog)
        identity = policy.identity_policy()
        for warning in identity_warnings(identity):  # cosign's policy pitfalls, as inputs
            self.console.warning(warning.replace("--certificate-", "certificate-"))
        return VerificationPolicy(identity=identity, ignore_tlog=ignore_tlog)

    def public_key(self, text: str) -> Any:
        """The key to verify with: the signing key's public half, or a PEM key or
        certificate given as text or a path."""
        from signer.certificates import load_verification_key

        if text == SIGNING_KEY:
            return self.private_key().public_key()
        if is_pem(text):
            return load_verification_key(text.encode(), "the public-key input")
        from signer.localfile import read_local_file

        return load_verification_key(read_local_file(text, "public-key"), f"public key {text}")

    def trusted_root(self) -> Any:
        """The trusted-root file, else the TUF repository's root (fetched once per run;
        the cache is TUF_ROOT, which action.yml puts under runner.temp)."""
        from signer.trust import TrustedRoot

        if self.inputs.trusted_root:
            return TrustedRoot.from_file(self.inputs.trusted_root)
        return self._tuf_material().trusted_root

    def signing_config(self) -> Any:
        """The signing-config input's file; else the TUF repository's signing config
        when the trusted root comes from it too and no fulcio-url/rekor-url input names
        the services; else None (the library's embedded public-good config, or only the
        services named). A repository other than public good that publishes none is an
        error."""
        if self.inputs.signing_config:
            from signer.signing_config import SigningConfig

            return SigningConfig.from_file(self.inputs.signing_config)
        if self.inputs.trusted_root or self.inputs.fulcio_url or self.inputs.rekor_url:
            return None
        from signer.services.tuf.client import signing_config_for

        return signing_config_for(self._tuf_material())

    def _tuf_material(self) -> Any:
        if self._tuf is None:
            from signer.services.tuf.cache import cache_base
            from signer.services.tuf.client import load_trust
            from signer.services.tuf.instances import choose_instance

            instance = choose_instance(self.inputs.tuf_mirror, self.inputs.tuf_root,
                                       self.inputs.staging)
            trust = load_trust(instance, cache_base())
            if trust.notice:
                self.console.warning(trust.notice)
            self.console.line(f"trusted root: from TUF repository {instance.mirror}")
            self._tuf = trust
        return self._tuf

    def private_key(self) -> Any:
        """The signing key of the key input (path or PEM text), or None for keyless."""
        from signer.keys import load_private_key, load_private_key_bytes

        key, password = self.inputs.key, self.inputs.key_password
        if not key:
            return None
        secret = password.encode() if password else None
        if is_pem(key):
            return load_private_key_bytes(key.encode(), secret, what="the key input")
        return load_private_key(key, secret)

    def identity_token(self) -> str | None:
        """Keyless: fetch the OIDC token now, and mask it before anything can print it."""
        from signer.oidc import resolve_identity_token

        if self.inputs.key:
            return None
        given = self.inputs.identity_token
        token = resolve_identity_token(given, env=self.env)
        self.console.mask(token.raw)
        source = "the identity-token input" if given else token.source
        self.console.line(f"OIDC token for {token.identity} from {token.issuer} "
                          f"(via {source})")
        return token.raw
