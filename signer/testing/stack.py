"""Start the whole local Sigstore stack in process: OIDC issuer, Fulcio (+ CT log),
Rekor v1, Rekor v2 (tiles) and an RFC 3161 timestamp authority.

``start_stack(directory)`` binds every service on a free 127.0.0.1 port, writes the
trust material into ``directory`` and serves until ``stop()``:

- ``trusted_root.json``: every log, CA and TSA of the stack;
- ``signing_config.v0.2.json``: Fulcio, OIDC, Rekor v1 *and* v2, TSA (a client that
  speaks Rekor v2 picks it: the highest API version per operator);
- ``signing_config_rekor_v1.v0.2.json``: the same with Rekor v1 only (and the TSA);
- ``signing_config.json`` / ``client_trust_config.json``: Rekor v1 without TSA, as
  before (what clients without TSA or v2 support use);
- ``client_trust_config.v0.2.json``: the trusted root with ``signing_config.v0.2.json``;
- ``stack.json``.

Keys, the CA and TSA chains and the Rekor v1 database are kept in ``directory``:
starting again in the same directory keeps that log and the trust anchors (the URLs,
and with them Rekor v1's checkpoint origin, change). The Rekor v2 log lives in memory:
its origin and log ID follow its URL.

The trusted root and ``signing_config.v0.2.json`` are also published through a real
TUF repository (``directory/tuf``, :mod:`signer.testing.tuf_repo`), rebuilt with fresh
keys at every start: ``tuf_url`` and ``tuf_root`` in ``stack.json`` are what
``signer initialize --mirror URL --root FILE`` takes. :meth:`Stack.publish_trust`
publishes the current trust material again, :meth:`Stack.rotate_rekor_key` gives
Rekor v1 a new key and publishes a trusted root naming only that key for it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signer.testing.ca import CertificateAuthority
from signer.testing.ctlog import CtLog
from signer.testing.fulcio_identity import GITHUB_URL, IssuerConfig
from signer.testing.fulcio_server import FulcioServer
from signer.testing.httpbase import FaultInjector, Service
from signer.testing.keystore import load_or_create_key
from signer.testing.oidc_server import OidcIssuer, OidcServer, default_github_claims
from signer.testing.rekor_log import RekorLog
from signer.testing.rekor_server import RekorServer
from signer.testing.rekor_v2 import RekorV2Log
from signer.testing.rekor_v2_server import RekorV2Server
from signer.testing.trust_material import (
    AuthorityWindow,
    StackEndpoints,
    client_trust_config,
    signing_config,
    trusted_root,
)
from signer.testing.tsa import TimestampAuthority
from signer.testing.tsa_server import TsaServer
from signer.testing.tuf_repo import TufRepository, TufServer


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
            index_offset=rekor_index_offset,
        )
        self.rekor = RekorServer(self.rekor_log)
        self.rekor.bind()
        # Rekor names its checkpoint key (and origin) after the host it serves, as
        # rekor.sigstore.dev does for https://rekor.sigstore.dev: sigstore-js accepts a
        # checkpoint only if that name is part of the log's baseUrl in the trusted root.
        self.rekor_log.origin_host = self.rekor.url.removeprefix("http://")
        rekor_v2_key = load_or_create_key(keys, "rekor-v2", "ed25519")
        assert isinstance(rekor_v2_key, ed25519.Ed25519PrivateKey)
        self.rekor_v2_log = RekorV2Log(rekor_v2_key)
        self.rekor_v2 = RekorV2Server(self.rekor_v2_log)
        self.rekor_v2.bind()
        self.tsa_authority = TimestampAuthority(keys)
        self.tsa = TsaServer(self.tsa_authority)
        self.tsa.bind()
        tuf_dir = self.directory / "tuf"
        shutil.rmtree(tuf_dir, ignore_errors=True)  # a new repository (new keys) each start
        self.tuf_repo = TufRepository(tuf_dir)
        self.tuf = TufServer(tuf_dir)
        self.tuf.bind()
        self.trusted_root_path = self.directory / "trusted_root.json"
        self.signing_config_path = self.directory / "signing_config.json"
        self.client_trust_config_path = self.directory / "client_trust_config.json"
        #: Rekor v1 and v2 and the TSA (cosign v3's file name)
        self.signing_config_v02_path = self.directory / "signing_config.v0.2.json"
        #: Rekor v1 only, with the TSA
        self.signing_config_rekor_v1_path = self.directory / "signing_config_rekor_v1.v0.2.json"
        self.client_trust_config_v02_path = self.directory / "client_trust_config.v0.2.json"
        self.stack_json_path = self.directory / "stack.json"
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Stack:
        """Write the trust material and start serving."""
        self.publish_trust()
        for service in self.services.values():
            service.start()
        self.write_stack_json()
        return self

    def publish_trust(self) -> None:
        """Write the trust material files and publish the trusted root and
        ``signing_config.v0.2.json`` as targets of the stack's TUF repository."""
        endpoints = self.endpoints()
        _write_json(self.trusted_root_path, trusted_root(endpoints))
        _write_json(self.signing_config_path, signing_config(endpoints))
        _write_json(self.client_trust_config_path, client_trust_config(endpoints))
        _write_json(self.signing_config_v02_path,
                    signing_config(endpoints, rekor_versions=(1, 2), with_tsa=True))
        _write_json(self.signing_config_rekor_v1_path,
                    signing_config(endpoints, rekor_versions=(1,), with_tsa=True))
        _write_json(self.client_trust_config_v02_path,
                    client_trust_config(endpoints, rekor_versions=(1, 2), with_tsa=True))
        self.publish_tuf_targets()

    def publish_tuf_targets(self) -> None:
        """Publish the current trusted root and signing config files through TUF."""
        self.tuf_repo.publish_targets({
            "trusted_root.json": self.trusted_root_path.read_bytes(),
            "signing_config.v0.2.json": self.signing_config_v02_path.read_bytes(),
        })

    def rotate_tuf_root_keys(self, keys: int, threshold: int) -> None:
        """A new TUF root version with ``keys`` fresh root keys and ``threshold``,
        signed by the old and the new keys (clients follow it on their next update)."""
        self.tuf_repo.rotate_root(keys, threshold)
        self.tuf_repo.sign_role("timestamp", bump=True)

    def rotate_rekor_key(self) -> None:
        """Give Rekor a new signing key (in memory) and publish a trusted root naming
        only the new key: entries logged before are no longer trusted by it."""
        self.rekor_log.key = ec.generate_private_key(ec.SECP256R1())
        self.publish_trust()

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
        """The running services by name (``oidc``, ``fulcio``, ``rekor``, ``rekor-v2``,
        ``tsa``, ``tuf``)."""
        return {"oidc": self.oidc, "fulcio": self.fulcio, "rekor": self.rekor,
                "rekor-v2": self.rekor_v2, "tsa": self.tsa, "tuf": self.tuf}

    def faults(self, service: str) -> FaultInjector:
        """Fault knobs of one service: ``set_latency``, ``fail_next``, ``drop_next``."""
        return self.services[service].faults

    def set_clock_skew(self, *, fulcio_seconds: int = 0, rekor_seconds: int = 0,
                       tsa_seconds: int = 0) -> None:
        """Shift the notBefore of new leaves, the integratedTime of new entries and
        the genTime of new timestamps."""
        self.fulcio.clock_skew_seconds = fulcio_seconds
        self.rekor_log.clock_skew_seconds = rekor_seconds
        self.tsa_authority.clock_skew_seconds = tsa_seconds

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
    def rekor_v2_url(self) -> str:
        """Rekor v2 base URL (its checkpoint origin is this URL without the scheme)."""
        return self.rekor_v2.url

    @property
    def tsa_url(self) -> str:
        """The timestamp authority's request URL (``…/api/v1/timestamp``)."""
        return self.tsa.timestamp_url

    @property
    def tuf_url(self) -> str:
        """Base URL of the TUF repository (metadata; targets under ``/targets/``)."""
        return self.tuf.url

    @property
    def tuf_root_path(self) -> Path:
        """The TUF repository's first ``root.json``, to bootstrap a client with."""
        return self.tuf_repo.root_path

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
            rekor_v2_url=self.rekor_v2_url,
            rekor_v2_key=self.rekor_v2_log.key.public_key(),
            rekor_v2_log_id=self.rekor_v2_log.log_id,
            tsa_url=self.tsa_url,
            tsa_chain=tuple(self.tsa_authority.chain),
        )

    def write_trusted_root(self, path: Path, authorities: Sequence[AuthorityWindow]) -> Path:
        """Write a trusted root naming the stack's logs and these Fulcio CAs (tests)."""
        _write_json(Path(path), trusted_root(self.endpoints(), authorities))
        return Path(path)

    @contextlib.contextmanager
    def issuing_from(self, ca: CertificateAuthority) -> Iterator[CertificateAuthority]:
        """Let Fulcio issue from ``ca`` (e.g. ``self.ca.sibling(...)``) inside the block."""
        previous = self.fulcio.ca
        self.fulcio.ca = ca
        try:
            yield ca
        finally:
            self.fulcio.ca = previous

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
            "rekor_v2_url": self.rekor_v2_url,
            "rekor_v2_log_id": self.rekor_v2_log.log_id.hex(),
            "tsa_url": self.tsa_url,
            "ct_log_url": self.ct_log.base_url,
            "rekor_log_id": self.rekor_log.log_id.hex(),
            "rekor_tree_id": str(self.rekor_log.tree_id),
            "rekor_checkpoint_origin": self.rekor_log.origin,
            "ct_log_id": self.ct_log.log_id.hex(),
            "trusted_root_path": str(self.trusted_root_path),
            "signing_config_path": str(self.signing_config_path),
            "signing_config": str(self.signing_config_v02_path),
            "signing_config_rekor_v1": str(self.signing_config_rekor_v1_path),
            "client_trust_config_v02_path": str(self.client_trust_config_v02_path),
            "client_trust_config_path": str(self.client_trust_config_path),
            "tuf_url": self.tuf_url,
            "tuf_root": str(self.tuf_root_path),
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
