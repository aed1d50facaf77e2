"""Start the whole local Sigstore stack in process: OIDC issuer, Fulcio (+ CT log), Rekor.

``start_stack(directory)`` binds every service on a free 127.0.0.1 port, writes the
trust material into ``directory`` (``trusted_root.json``, ``signing_config.json``,
``client_trust_config.json``, ``stack.json``) and serves until ``stop()``. Keys, the CA
chain and the Rekor database are kept in ``directory``: starting again in the same
directory keeps the log and the trust anchors (the URLs change).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signer.testing.ca import CertificateAuthority
from signer.testing.ctlog import CtLog
from signer.testing.fulcio_identity import GITHUB_URL, IssuerConfig
from signer.testing.fulcio_server import FulcioServer
from signer.testing.httpbase import FaultInjector, Service
from signer.testing.keystore import load_or_create_key
from signer.testing.oidc_server import OidcIssuer, OidcServer, default_github_claims
from signer.testing.rekor_log import RekorLog
from signer.testing.rekor_server import RekorServer
from signer.testing.trust_material import (
    StackEndpoints,
    client_trust_config,
    signing_config,
    trusted_root,
)

REKOR_ORIGIN_HOST = "rekor.signer.local"


def _write_json(path: Path, value: Any, private: bool = False) -> None:
    data = json.dumps(value, indent=2) + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
    os.replace(tmp, path)


class Stack:
    """A running local Sigstore stack (use :func:`start_stack`)."""

    def __init__(self, directory: Path, *, rekor_index_offset: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        keys = self.directory / "keys"
        oidc_key = load_or_create_key(keys, "oidc", "rsa2048")
        ct_key = load_or_create_key(keys, "ctlog", "p256")
        rekor_key = load_or_create_key(keys, "rekor", "p256")
        assert isinstance(oidc_key, rsa.RSAPrivateKey)
        assert isinstance(ct_key, ec.EllipticCurvePrivateKey)
        assert isinstance(rekor_key, ec.EllipticCurvePrivateKey)
        self.ca = CertificateAuthority.load_or_create(keys)
        self.issuer = OidcIssuer(oidc_key)
        self.oidc = OidcServer(self.issuer)
        self.oidc.bind()
        self.ct_log = CtLog(ct_key)
        self.fulcio = FulcioServer(
            self.ca,
            self.ct_log,
            [
                IssuerConfig(self.issuer.github_issuer, "github-workflow"),
                IssuerConfig(self.issuer.email_issuer, "email"),
            ],
        )
        self.fulcio.bind()
        self.ct_log.base_url = f"{self.fulcio.url}/ct"
        self.rekor_log = RekorLog(
            self.directory / "rekor.sqlite3",
            rekor_key,
            origin_host=REKOR_ORIGIN_HOST,
            index_offset=rekor_index_offset,
        )
        self.rekor = RekorServer(self.rekor_log)
        self.rekor.bind()
        self.trusted_root_path = self.directory / "trusted_root.json"
        self.signing_config_path = self.directory / "signing_config.json"
        self.client_trust_config_path = self.directory / "client_trust_config.json"
        self.stack_json_path = self.directory / "stack.json"
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Stack:
        """Write the trust material and start serving."""
        endpoints = self.endpoints()
        _write_json(self.trusted_root_path, trusted_root(endpoints))
        _write_json(self.signing_config_path, signing_config(endpoints))
        _write_json(self.client_trust_config_path, client_trust_config(endpoints))
        for service in self.services.values():
            service.start()
        self.write_stack_json()
        return self

    def stop(self) -> None:
        """Stop every server and close the log database (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for service in self.services.values():
            service.stop()
        self.rekor_log.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- URLs and trust -------------------------------------------------------------
    @property
    def services(self) -> dict[str, Service]:
        """The running services by name (``oidc``, ``fulcio``, ``rekor``)."""
        return {"oidc": self.oidc, "fulcio": self.fulcio, "rekor": self.rekor}

    def faults(self, service: str) -> FaultInjector:
        """Fault knobs of one service: ``set_latency``, ``fail_next``, ``drop_next``."""
        return self.services[service].faults

    def set_clock_skew(self, *, fulcio_seconds: int = 0, rekor_seconds: int = 0) -> None:
        """Shift the notBefore of new leaves and the integratedTime of new entries."""
        self.fulcio.clock_skew_seconds = fulcio_seconds
        self.rekor_log.clock_skew_seconds = rekor_seconds

    @property
    def oidc_issuer_url(self) -> str:
        """``iss`` of the GitHub-style tokens."""
        return self.issuer.github_issuer

    @property
    def email_issuer_url(self) -> str:
        """``iss`` of the e-mail tokens."""
        return self.issuer.email_issuer

    @property
    def token_request_url(self) -> str:
        """``ACTIONS_ID_TOKEN_REQUEST_URL`` equivalent."""
        return self.oidc.token_request_url

    @property
    def token_request_token(self) -> str:
        """``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` equivalent."""
        return self.oidc.request_token

    @property
    def fulcio_url(self) -> str:
        """Fulcio base URL."""
        return self.fulcio.url

    @property
    def rekor_url(self) -> str:
        """Rekor base URL."""
        return self.rekor.url

    @property
    def default_identity(self) -> str:
        """The certificate SAN of a default token (the workflow identity)."""
        claims = default_github_claims(self.oidc_issuer_url, "sigstore", 0)
        return GITHUB_URL + str(claims["job_workflow_ref"])

    def endpoints(self) -> StackEndpoints:
        """Inputs of the trust material."""
        return StackEndpoints(
            fulcio_url=self.fulcio_url,
            rekor_url=self.rekor_url,
            ct_url=self.ct_log.base_url,
            oidc_url=self.oidc_issuer_url,
            fulcio_chain=self.ca.chain,
            rekor_key=self.rekor_log.key.public_key(),
            ct_key=self.ct_log.key.public_key(),
            valid_from=self.ca.root.not_valid_before_utc - datetime.timedelta(minutes=1),
        )

    # -- tokens ---------------------------------------------------------------------
    def issue_token(self, **claim_overrides: Any) -> str:
        """A GitHub Actions token from the local issuer (``None`` removes a claim)."""
        return self.issuer.issue_token(**claim_overrides)

    def issue_email_token(self, email: str = "signer@example.com", **claim_overrides: Any) -> str:
        """A token from the local e-mail issuer."""
        return self.issuer.issue_email_token(email, **claim_overrides)

    def set_token_claims(self, **claim_overrides: Any) -> None:
        """Claims that the token request endpoint puts in the tokens it hands out."""
        self.oidc.set_claim_overrides(**claim_overrides)

    def info(self, token: str | None = None) -> dict[str, Any]:
        """What ``stack.json`` holds."""
        return {
            "oidc_issuer_url": self.oidc_issuer_url,
            "email_issuer_url": self.email_issuer_url,
            "token_request_url": self.token_request_url,
            "token_request_token": self.token_request_token,
            "identity_token": token if token is not None else self.issue_token(),
            "certificate_identity": self.default_identity,
            "certificate_oidc_issuer": self.oidc_issuer_url,
            "fulcio_url": self.fulcio_url,
            "rekor_url": self.rekor_url,
            "ct_log_url": self.ct_log.base_url,
            "rekor_log_id": self.rekor_log.log_id.hex(),
            "rekor_tree_id": str(self.rekor_log.tree_id),
            "rekor_checkpoint_origin": self.rekor_log.origin,
            "ct_log_id": self.ct_log.log_id.hex(),
            "trusted_root_path": str(self.trusted_root_path),
            "signing_config_path": str(self.signing_config_path),
            "client_trust_config_path": str(self.client_trust_config_path),
            "directory": str(self.directory),
            "pid": os.getpid(),
        }

    def write_stack_json(self, extra: dict[str, Any] | None = None) -> Path:
        """Write ``stack.json`` (mode 0600: it holds the request token)."""
        info = self.info()
        info.update(extra or {})
        _write_json(self.stack_json_path, info, private=True)
        return self.stack_json_path


def start_stack(directory: Path | str, *, rekor_index_offset: int = 0) -> Stack:
    """Start the stack with its state in ``directory``; use as a context manager."""
    stack = Stack(Path(directory), rekor_index_offset=rekor_index_offset)
    try:
        return stack.start()
    except BaseException:
        stack.stop()
        raise
