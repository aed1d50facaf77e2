"""A distribution-spec (OCI registry) client (layer L3).

:class:`RegistryClient` talks to any number of registries through one pooled,
retrying HTTP session (see :func:`signer.http.new_session`). Per registry it pings
``/v2/`` once to learn the scheme and the auth challenge; requests then carry basic
credentials or a bearer token scoped to the repository (cached per scope).

Guarantees: every manifest or blob fetched by digest is hashed and checked (a
manifest fetched by tag is checked against ``Docker-Content-Digest``); sizes are
capped; HTTPS with verified TLS unless the user names the registry insecure, or it
is a loopback registry that only speaks plain HTTP; credentials go only to the host
that challenged (a redirect elsewhere, e.g. to blob storage, carries none);
a registry reached over TLS is never followed to plain HTTP (unless named insecure);
uploads that fail mid-way restart from a new upload session instead of resending
half a chunk. Failures are :mod:`signer.errors` with one-line messages and hints.
The client is thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3

from signer.digest import check_digest, parse_digest, sha256_digest
from signer.errors import (
    DigestMismatchError,
    Error,
    ImageNotFoundError,
    InputError,
    NetworkError,
    RegistryError,
    ResponseCutError,
    ServiceTimeoutError,
    SizeLimitError,
)
from signer.http import (
    DEFAULT_TIMEOUT,
    MAX_RETRY_AFTER,
    RETRY_STATUSES,
    display_host,
    new_session,
    read_bounded,
)
from signer.reference import Reference
from signer.registry.auth import (
    Challenge,
    TokenCache,
    TokenKey,
    fetch_token,
    parse_challenge,
    repository_scope,
)
from signer.registry.credentials import Credentials, Keychain, default_keychain
from signer.registry.failures import exception_error, looks_like_html, response_error
from signer.registry.mediatypes import (
    DOCKER_MANIFEST_V1,
    DOCKER_MANIFEST_V1_SIGNED,
    MANIFEST_ACCEPT,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from signer.registry.probe import answers_tls

if TYPE_CHECKING:
    from signer.formats.legacy import Descriptor

#: Largest manifest we read or write (the limit distribution itself applies).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Default cap on a blob read into memory.
DEFAULT_MAX_BLOB_BYTES = 512 * 1024 * 1024
#: Blobs larger than this are uploaded in chunks of this size.
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
#: How often an upload is restarted from a new session after a transient failure.
UPLOAD_ATTEMPTS = 3
MAX_REDIRECTS = 5
#: (connect, read) seconds for the HTTPS probe of loopback/insecure registries: a
#: plain-HTTP server may never answer a TLS hello, so do not wait the full timeout.
PROBE_TIMEOUT = (3.0, 5.0)
#: Longest read wait for the ``/v2/`` ping: the API root answers at once on a healthy
#: registry, so a registry that accepts connections but never answers is given up on
#: sooner than a slow blob transfer would be.
PING_READ_TIMEOUT = 10.0
MAX_TAGS = 100_000
MAX_TAG_PAGES = 1_000
MAX_REFERRERS = 10_000
#: HEAD requests in flight at once in :meth:`RegistryClient.resolve_digests` (more
#: only queue behind the registry: measured on a 2-core machine, 4-8 is the knee)
RESOLVE_WORKERS = 8
_REDIRECTS = (301, 302, 303, 307, 308)
_KNOWN_MEDIA_TYPES = frozenset((*MANIFEST_MEDIA_TYPES, DOCKER_MANIFEST_V1,
                                DOCKER_MANIFEST_V1_SIGNED))


class Manifest(NamedTuple):
    """A manifest or index exactly as the registry stored it."""

    data: bytes
    media_type: str
    digest: str

    @property
    def size(self) -> int:
        """Length of the manifest in bytes."""
        return len(self.data)

    def json(self) -> dict[str, Any]:
        """The manifest parsed as a JSON object."""
        try:
            document = json.loads(self.data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RegistryError(f"manifest {self.digest} is not JSON",
                                hint="the registry returned a corrupt manifest") from None
        if not isinstance(document, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return document


class ManifestDescriptor(NamedTuple):
    """What a HEAD on a manifest tells: media type, digest and size."""

    media_type: str
    digest: str
    size: int


class _Host(NamedTuple):
    """What the ``/v2/`` ping taught us about one registry host."""

    base_url: str
    verify: bool | str
    challenge: Challenge | None
    insecure: bool


class _RetryableUpload(Exception):
    """An upload step failed in a way worth a fresh upload session."""

    def __init__(self, error: Error, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _finish(response: requests.Response, limit: int = 65536) -> None:
    """Drain a small remaining body, then release the connection back to the pool.

    Closing an unread response would drop its connection; a drained one is reused.
    Bodies over ``limit`` are not drained (the connection is dropped instead).
    """
    total = 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            total += len(chunk)
            if total > limit:
                break
    except requests.RequestException:
        pass
    finally:
        response.close()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else None


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _media_type(content_type: str, data: bytes) -> str:
    declared = content_type.split(";", 1)[0].strip()
    if declared in _KNOWN_MEDIA_TYPES:
        return declared
    try:
        field = json.loads(data).get("mediaType")
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        field = None
    if isinstance(field, str) and field:
        return field
    return declared or OCI_MANIFEST


def _descriptor(entry: Any) -> Descriptor | None:
    from signer.formats.legacy import Descriptor  # only the referrers API needs the format

    if not isinstance(entry, dict):
        return None
    media_type, size, digest = entry.get("mediaType"), entry.get("size"), entry.get("digest")
    if not (isinstance(media_type, str) and isinstance(size, int) and isinstance(digest, str)):
        return None
    annotations = entry.get("annotations")
    artifact_type = entry.get("artifactType")
    return Descriptor(
        media_type=media_type, size=size, digest=digest,
        annotations={str(k): str(v) for k, v in annotations.items()}
        if isinstance(annotations, dict) else {},
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
    )


#: connections kept per registry host: verify's 32 image workers each look up the
#: ``.sig`` and the referrers of an image at once (signer.fetch.verify_image)
POOL_SIZE = 64

class RegistryClient:
    """A thread-safe, connection-reusing client for OCI/Docker registries.

    ``credentials``: a :class:`~signer.registry.credentials.Keychain`, fixed
    :class:`~signer.registry.credentials.Credentials` (for the registries the
    references name), or None for Docker's config.json and ``GITHUB_TOKEN``.
    ``insecure``: registries (``host[:port]``) that may use plain HTTP or unverified
    TLS. ``ca_bundle``: extra trust anchors for TLS.
    """

    def __init__(self, credentials: Keychain | Credentials | None = None,
                 insecure: Iterable[str] = (), ca_bundle: str | None = None, *,
                 retries: int = 3, backoff: float = 0.2,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, pool_size: int = POOL_SIZE) -> None:
        if credentials is None:
            self._keychain: Keychain = default_keychain()
        elif isinstance(credentials, Credentials):
            self._keychain = default_keychain(credentials)
        else:
            self._keychain = credentials
        self._insecure = frozenset(insecure)
        if self._insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._retries = retries
        self._ping_timeout = (timeout[0], min(timeout[1], PING_READ_TIMEOUT))
        self._chunk_size = max(1, chunk_size)
        self._backoff = backoff
        self._session = new_session(retries=retries, backoff=backoff, timeout=timeout,
                                    ca_bundle=ca_bundle, pool_size=pool_size)
        # Uploads (POST/PATCH and the PUT that ends them) are never resent blindly.
        self._once = new_session(retries=0, timeout=timeout, ca_bundle=ca_bundle,
                                 pool_size=pool_size)
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        # A host whose ping failed for a network reason fails again at once for the
        # rest of this client's life, instead of waiting out every timeout per call.
        self._unreachable: dict[str, Error] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._credentials_cache: dict[str, Credentials | None] = {}
        #: hosts without a referrers API (its route answered 405, or 404 without a
        #: registry JSON error: the route is unknown, as on distribution 2.8); further
        #: lookups go straight to the tag schema. A JSON 404 (NAME_UNKNOWN) is about
        #: one repository, and a registry with the API answers 200 for any subject of
        #: a repository it has (OCI distribution 1.1), so neither is remembered.
        self._no_referrers_api: set[str] = set()
        self._tokens = TokenCache()
        self._token_locks: dict[tuple[Any, ...], threading.Lock] = {}

    def __repr__(self) -> str:
        return f"RegistryClient(hosts={sorted(self._hosts)}, insecure={sorted(self._insecure)})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
        self._once.close()

    # -- hosts, credentials and authorization ------------------------------------

    def _is_insecure(self, ref: Reference) -> bool:
        host = ref.registry.rsplit(":", 1)[0] if not ref.registry.endswith("]") else ref.registry
        return ref.registry in self._insecure or host in self._insecure

    def _credentials(self, ref: Reference) -> Credentials | None:
        with self._lock:
            if ref.registry in self._credentials_cache:
                return self._credentials_cache[ref.registry]
        found = self._keychain.credentials_for(ref.registry)
        with self._lock:
            self._credentials_cache[ref.registry] = found
        return found

    def _host(self, ref: Reference) -> _Host:
        key = ref.api_host
        with self._lock:
            state = self._hosts.get(key)
            if state is not None:
                return state
            lock = self._host_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                state = self._hosts.get(key)
                known_failure = self._unreachable.get(key)
            if known_failure is not None:
                raise type(known_failure)(known_failure.message, hint=known_failure.hint,
                                          exit_code=known_failure.exit_code)
            if state is None:
                try:
                    state = self._ping(ref)
                except ServiceTimeoutError as failure:
                    with self._lock:
                        self._unreachable[key] = failure
                    raise
                with self._lock:
                    self._hosts[key] = state
        return state

    def _ping(self, ref: Reference) -> _Host:
        host = ref.api_host
        insecure = self._is_insecure(ref)
        # TLS is verified unless the user named this registry insecure; the session's
        # setting is True or a CA bundle path (typed Optional by requests' stubs).
        verify: bool | str = False if insecure else self._session.verify  # type: ignore[assignment]
        if not (insecure or ref.is_loopback):
            try:
                response = self._session.get(f"https://{host}/v2/", allow_redirects=False,
                                             stream=True, timeout=self._ping_timeout)
            except requests.RequestException as exc:
                raise exception_error(exc, host) from None
            return self._ping_result(response, f"https://{host}", verify, insecure, host)
        # Loopback or user-named insecure: HTTPS first, then plain HTTP. The HTTPS
        # attempt is skipped when a bare handshake shows the port does not speak TLS
        # (it would fail the same way, after loading the whole CA bundle).
        https_exc: requests.RequestException | None = None
        if answers_tls(host, PROBE_TIMEOUT):
            try:
                return self._probe_https(host, verify, insecure)
            except requests.RequestException as exc:
                https_exc = exc
        try:
            response = self._session.get(f"http://{host}/v2/", allow_redirects=False,
                                         stream=True, timeout=self._ping_timeout)
        except requests.RequestException as exc:
            raise exception_error(exc, host) from None
        if response.status_code == 400:
            body = next(response.iter_content(4096), b"")
            _finish(response)
            if b"HTTPS server" in body:
                if https_exc is None:  # the bare handshake missed it: ask over HTTPS after all
                    try:
                        return self._probe_https(host, verify, insecure)
                    except requests.RequestException as exc:
                        https_exc = exc
                raise exception_error(https_exc, host) from None
        return self._ping_result(response, f"http://{host}", verify, insecure, host)

    def _probe_https(self, host: str, verify: bool | str, insecure: bool) -> _Host:
        """The ``/v2/`` ping over HTTPS of a loopback or user-named insecure registry."""
        response = self._once.get(f"https://{host}/v2/", verify=verify, allow_redirects=False,
                                  stream=True, timeout=PROBE_TIMEOUT)
        return self._ping_result(response, f"https://{host}", verify, insecure, host)

    def _ping_result(self, response: requests.Response, base_url: str, verify: bool | str,
                     insecure: bool, host: str) -> _Host:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        if status == 200 and not looks_like_html(content_type, b""):
            _finish(response)
            return _Host(base_url, verify, None, insecure)
        if status == 401:
            challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
            _finish(response)
            return _Host(base_url, verify, challenge or Challenge("basic"), insecure)
        if status == 404 and not looks_like_html(content_type, b""):
            _finish(response)
            raise RegistryError(f"{host} does not serve the registry API (GET /v2/ answered 404)",
                                hint="check the registry address in the image reference")
        raise response_error(response, "the registry API check (GET /v2/)", host,
                             retries=self._retries)

    def _authorization(self, ref: Reference, state: _Host, scopes: tuple[str, ...], *,
                       fresh: bool = False) -> tuple[str | None, tuple[Any, ...] | None]:
        challenge = state.challenge
        if challenge is None:
            return None, None
        credentials = self._credentials(ref)
        if challenge.scheme == "basic":
            return (credentials.basic_header() if credentials else None), None
        if challenge.scheme != "bearer":
            return None, None
        key: TokenKey = (ref.api_host, challenge.realm or "", challenge.service or "", scopes,
                         credentials.username if credentials else "")
        if not fresh:
            cached = self._tokens.get(key)
            if cached:
                return f"Bearer {cached}", key
        with self._lock:
            key_lock = self._token_locks.setdefault(key, threading.Lock())
        with key_lock:  # one token request per scope, however many threads ask at once
            if not fresh:
                cached = self._tokens.get(key)
                if cached:
                    return f"Bearer {cached}", key
            token, lifetime = fetch_token(self._session, challenge, scopes, credentials,
                                          ref.api_host, insecure=state.insecure,
                                          verify=state.verify)
            self._tokens.put(key, token, lifetime)
        return f"Bearer {token}", key

    # -- sending --------------------------------------------------------------------

    def _send(self, session: requests.Session, method: str, url: str, state: _Host, *,
              authorization: str | None, headers: Mapping[str, str], data: bytes | None,
              ) -> requests.Response:
        origin = _origin(state.base_url)
        for _ in range(MAX_REDIRECTS + 1):
            same_origin = _origin(url) == origin
            request_headers = dict(headers)
            if authorization and same_origin:
                request_headers["Authorization"] = authorization
            response = session.request(
                method, url, headers=request_headers, data=data, stream=True,
                allow_redirects=False,
                verify=state.verify if same_origin else session.verify,
            )
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            _finish(response)
            url = urljoin(url, location)
            if origin[0] == "https" and urlsplit(url).scheme != "https" and not state.insecure:
                raise RegistryError(
                    f"{display_host(state.base_url)} redirected a request to plain HTTP "
                    f"({display_host(url)}); refused",
                    hint="a registry reached over TLS must stay on HTTPS; name it insecure "
                         "only if you trust the network")
            if response.status_code == 303:
                method, data = "GET", None
        raise RegistryError(f"too many redirects from {state.base_url}",
                            hint="the registry or a proxy is misconfigured")

    def _request(self, method: str, ref: Reference, path_or_url: str, *,
                 actions: str = "pull", extra_scopes: tuple[str, ...] = (),
                 headers: Mapping[str, str] | None = None, data: bytes | None = None,
                 session: requests.Session | None = None) -> requests.Response:
        """Send one authorised request; re-authorise once on a 401."""
        state = self._host(ref)
        url = path_or_url if "://" in path_or_url else state.base_url + path_or_url
        scopes = (repository_scope(ref.repository, actions), *extra_scopes)
        session = session or self._session
        headers = headers or {}
        authorization, key = self._authorization(ref, state, scopes)
        try:
            response = self._send(session, method, url, state, authorization=authorization,
                                  headers=headers, data=data)
            if response.status_code != 401:
                return response
            challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
            if "insufficient_scope" in (challenge.params.get("error", "") if challenge else ""):
                return response
            if state.challenge is None and challenge is not None:
                # Anonymous at /v2/, but this repository wants credentials.
                state = _Host(state.base_url, state.verify, challenge, state.insecure)
                with self._lock:
                    self._hosts[ref.api_host] = state
            elif key is None:
                return response  # basic credentials (or none) were refused
            if key is not None:
                self._tokens.drop(key)
            retry_authorization, _ = self._authorization(ref, state, scopes, fresh=True)
            if retry_authorization is None:
                return response
            _finish(response)
            return self._send(session, method, url, state, authorization=retry_authorization,
                              headers=headers, data=data)
        except requests.RequestException as exc:
            raise exception_error(exc, ref.api_host) from None

    def _error(self, response: requests.Response, ref: Reference, what: str) -> Error:
        state = self._host(ref)
        credentials = self._credentials(ref) if state.challenge is not None else None
        return response_error(
            response, what, ref.api_host,
            secrets=credentials.secrets if credentials else (),
            username=credentials.username if credentials else None,
            had_credentials=credentials is not None, retries=self._retries,
        )

    # -- manifests ------------------------------------------------------------------

    def get_manifest(self, ref: Reference, *, limit: int = MAX_MANIFEST_BYTES) -> Manifest:
        """Fetch the manifest or index ``ref`` names (by digest, else tag); a body cut
        mid-way is fetched again (up to ``retries`` times)."""
        return _again_if_cut(lambda: self._get_manifest_once(ref, limit), self._retries)

    def _get_manifest_once(self, ref: Reference, limit: int) -> Manifest:
        """Fetch the manifest or index ``ref`` names (by digest, else tag).

        By digest, the bytes must hash to it; by tag, they must match the
        ``Docker-Content-Digest`` the registry sends. 404 -> ImageNotFoundError.
        """
        response = self._request("GET", ref, f"/v2/{ref.repository}/manifests/{ref.identifier}",
                                 headers={"Accept": MANIFEST_ACCEPT})
        content_type = response.headers.get("Content-Type", "")
        if response.status_code == 404 and not looks_like_html(content_type, b""):
            _finish(response)
            raise ImageNotFoundError(f"image not found: {ref.name}",
                                     hint="check the repository, tag or digest")
        if response.status_code != 200 or looks_like_html(content_type, b""):
            raise self._error(response, ref, f"manifest {ref.name}")
        data = read_bounded(response, limit, f"manifest {ref.name}")
        if looks_like_html(content_type, data):
            raise RegistryError(f"{ref.api_host} answered manifest {ref.name} with an HTML page",
                                hint="check that it is a container registry")
        if ref.digest:
            check_digest(ref.digest, data, f"manifest {ref.name}")
            digest = ref.digest
        else:
            digest = str(sha256_digest(data))
            header = response.headers.get("Docker-Content-Digest", "")
            if header.startswith("sha256:") and header != digest:
                raise DigestMismatchError(
                    f"manifest {ref.name} does not match its digest: registry said {header}, "
                    f"content is {digest}",
                    hint="the registry or a proxy altered the content; do not trust it")
        return Manifest(data, _media_type(content_type, data), digest)

    def head_manifest(self, ref: Reference) -> ManifestDescriptor | None:
        """Media type, digest and size of ``ref``'s manifest, or None if it does not exist."""
        response = self._request("HEAD", ref,
                                 f"/v2/{ref.repository}/manifests/{ref.identifier}",
                                 headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            _finish(response)
            return None
        if response.status_code != 200:
            raise self._error(response, ref, f"manifest {ref.name}")
        _finish(response)
        digest = response.headers.get("Docker-Content-Digest", "")
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        length = response.headers.get("Content-Length", "")
        try:
            parse_digest(digest)
        except InputError:
            digest = ""
        if not digest or media_type not in _KNOWN_MEDIA_TYPES or not length.isdigit():
            manifest = self.get_manifest(ref)
            return ManifestDescriptor(manifest.media_type, manifest.digest, manifest.size)
        if ref.digest and digest != ref.digest:
            raise DigestMismatchError(
                f"registry answered {ref.name} with a different digest {digest}",
                hint="the registry or a proxy is misbehaving; do not trust it")
        return ManifestDescriptor(media_type, digest, int(length))

    def resolve_digest(self, ref: Reference) -> str:
        """The manifest digest ``ref`` names (no request if it already has one)."""
        if ref.digest:
            return ref.digest
        found = self.head_manifest(ref)
        if found is None:
            raise ImageNotFoundError(f"image not found: {ref.name}",
                                     hint="check the repository and tag")
        return found.digest

    def resolve_digests(self, refs: Sequence[Reference],
                        max_workers: int = RESOLVE_WORKERS) -> list[str]:
        """The digest of each reference, in order, resolved concurrently over the pool.

        Each tag is one HEAD (see :meth:`resolve_digest`); up to ``max_workers`` are in
        flight at once so their round trips overlap. The first failure (in input order)
        is raised after the others finished.
        """
        if len(refs) <= 1 or max_workers <= 1:
            return [self.resolve_digest(ref) for ref in refs]
        from concurrent.futures import ThreadPoolExecutor

        workers = min(max_workers, len(refs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="resolve") as pool:
            futures = [pool.submit(self.resolve_digest, ref) for ref in refs]
            return [future.result() for future in futures]

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str:
        """Store a manifest under ``ref``'s tag (or digest); return its digest."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise SizeLimitError(f"manifest for {ref.name} is {len(data)} bytes, over the "
                                 f"{MAX_MANIFEST_BYTES}-byte limit",
                                 hint="registries refuse manifests this large")
        digest = str(sha256_digest(data))
        if ref.digest:
            check_digest(ref.digest, data, f"manifest for {ref.name}")
            digest = ref.digest
        response = self._request("PUT", ref, f"/v2/{ref.repository}/manifests/{ref.identifier}",
                                 actions="pull,push", headers={"Content-Type": media_type},
                                 data=data)
        if response.status_code not in (200, 201):
            raise self._error(response, ref, f"manifest upload to {ref.name}")
        _finish(response)
        stored = response.headers.get("Docker-Content-Digest", "")
        if stored.startswith("sha256:") and digest.startswith("sha256:") and stored != digest:
            raise DigestMismatchError(
                f"registry stored manifest {ref.name} as {stored}, expected {digest}",
                hint="the registry rewrote the manifest; it is not byte-preserving")
        return digest

    def delete_manifest(self, ref: Reference, digest: str) -> None:
        """Delete the manifest with ``digest`` from ``ref``'s repository."""
        parse_digest(digest)
        target = ref.with_digest(digest)
        response = self._request("DELETE", target,
                                 f"/v2/{ref.repository}/manifests/{digest}", actions="delete")
        if response.status_code == 404:
            _finish(response)
            raise ImageNotFoundError(f"image not found: {target.name}",
                                     hint="it may already be deleted")
        if response.status_code not in (200, 202):
            raise self._error(response, target, f"manifest deletion of {target.name}")
        _finish(response)

    def list_tags(self, ref: Reference) -> list[str]:
        """All tags of ``ref``'s repository (following pagination, capped)."""
        url: str | None = f"/v2/{ref.repository}/tags/list?n=1000"
        tags: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            if url is None:
                break
            response = self._request("GET", ref, url)
            if response.status_code == 404 and not looks_like_html(
                    response.headers.get("Content-Type", ""), b""):
                _finish(response)
                raise ImageNotFoundError(f"repository not found: {ref.repository_name}",
                                         hint="check the repository name")
            if response.status_code != 200:
                raise self._error(response, ref, f"tag list of {ref.repository_name}")
            body = read_bounded(response, MAX_MANIFEST_BYTES, "tag list")
            try:
                page = json.loads(body).get("tags") or []
            except (ValueError, UnicodeDecodeError, AttributeError):
                raise RegistryError(f"{ref.api_host} sent a malformed tag list",
                                    hint="check that it is a container registry") from None
            tags += [t for t in page if isinstance(t, str)]
            if len(tags) > MAX_TAGS:
                raise SizeLimitError(f"{ref.repository_name} has more than {MAX_TAGS} tags")
            url = _next_link(response.headers.get("Link", ""), self._host(ref).base_url + "/")
        return tags

    # -- blobs ----------------------------------------------------------------------

    def get_blob(self, ref: Reference, digest: str, limit: int = DEFAULT_MAX_BLOB_BYTES) -> bytes:
        """Fetch a blob of ``ref``'s repository; it must hash to ``digest``."""
        parse_digest(digest)
        return _again_if_cut(lambda: self._get_blob_once(ref, digest, limit), self._retries)

    def _get_blob_once(self, ref: Reference, digest: str, limit: int) -> bytes:
        response = self._request("GET", ref, f"/v2/{ref.repository}/blobs/{digest}")
        if response.status_code != 200:
            raise self._error(response, ref, f"blob {digest} of {ref.repository_name}")
        data = read_bounded(response, limit, f"blob {digest}")
        check_digest(digest, data, f"blob {digest} of {ref.repository_name}")
        return data

    def blob_exists(self, ref: Reference, digest: str) -> bool:
        """True if ``ref``'s repository has the blob ``digest``."""
        parse_digest(digest)
        response = self._request("HEAD", ref, f"/v2/{ref.repository}/blobs/{digest}")
        _finish(response)
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._error(response, ref, f"blob {digest} of {ref.repository_name}")

    def upload_blob(self, ref: Reference, data: bytes, digest: str | None = None, *,
                    digest_checked: bool = False) -> str:
        """Upload ``data`` as a blob of ``ref``'s repository; return its digest.

        ``data`` is hashed against ``digest`` first, unless the caller has just done
        exactly that on this same ``data`` and says so with ``digest_checked`` (the
        push reads each blob through :meth:`ImageSource.read_blob`, which checks it
        with a message naming the image files; hashing it twice doubled the CPU time
        of large pushes). Monolithic up to the chunk size, chunked (PATCH with
        Content-Range) above it. A transient failure (connection, 429, 5xx) restarts
        the whole upload from a new session, at most :data:`UPLOAD_ATTEMPTS` times.
        """
        if digest is None:
            digest = str(sha256_digest(data))
        elif digest_checked:
            parse_digest(digest)
        else:
            check_digest(digest, data, "blob to upload")
        last: Error | None = None
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                self._upload_once(ref, data, digest)
                return digest
            except _RetryableUpload as retry:
                last = retry.error
                if attempt + 1 < UPLOAD_ATTEMPTS:
                    backoff = self._backoff * 2 ** attempt
                    wait = retry.retry_after if retry.retry_after is not None else backoff
                    time.sleep(min(wait, MAX_RETRY_AFTER))
        assert last is not None
        raise last

    def _upload_step(self, method: str, ref: Reference, url: str, expected: tuple[int, ...],
                     what: str, *, headers: Mapping[str, str] | None = None,
                     data: bytes | None = None,
                     extra_scopes: tuple[str, ...] = ()) -> requests.Response:
        try:
            response = self._request(method, ref, url, actions="pull,push", headers=headers,
                                     data=data, session=self._once, extra_scopes=extra_scopes)
        except RegistryError:
            raise
        except NetworkError as exc:
            raise _RetryableUpload(exc, None) from None
        if response.status_code in expected:
            return response
        retry_after = _retry_after(response)
        error = self._error(response, ref, what)
        if response.status_code in RETRY_STATUSES:
            raise _RetryableUpload(error, retry_after)
        raise error

    def _location(self, response: requests.Response, ref: Reference, current: str) -> str:
        location = response.headers.get("Location")
        _finish(response)
        if not location:
            raise RegistryError(f"{ref.api_host} started an upload without a Location",
                                hint="the registry is not following the distribution spec")
        return urljoin(current, location)

    def _upload_once(self, ref: Reference, data: bytes, digest: str) -> None:
        what = f"blob upload to {ref.repository_name}"
        start = self._host(ref).base_url + f"/v2/{ref.repository}/blobs/uploads/"
        response = self._upload_step("POST", ref, start, (202,), what,
                                     headers={"Content-Length": "0"})
        location = self._location(response, ref, start)
        octets = {"Content-Type": "application/octet-stream"}
        if len(data) <= self._chunk_size:
            response = self._upload_step("PUT", ref, _with_query(location, digest=digest),
                                         (201, 204), what, headers=octets, data=data)
            _finish(response)
            return
        offset = 0
        while offset < len(data):
            chunk = data[offset:offset + self._chunk_size]
            headers = {**octets, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
            response = self._upload_step("PATCH", ref, location, (202, 204), what,
                                         headers=headers, data=chunk)
            location = self._location(response, ref, location)
            offset += len(chunk)
        response = self._upload_step("PUT", ref, _with_query(location, digest=digest),
                                     (201, 204), what, headers={"Content-Length": "0"})
        _finish(response)

    def mount_blob(self, ref: Reference, digest: str, from_repository: str | Reference) -> bool:
        """Mount ``digest`` from another repository of the same registry; True if mounted.

        False means the registry did not mount it (the caller uploads instead); a
        source in another registry is never tried.
        """
        parse_digest(digest)
        if isinstance(from_repository, Reference):
            if from_repository.registry != ref.registry:
                return False
            source = from_repository.repository
        else:
            source = from_repository
        if source == ref.repository:
            return self.blob_exists(ref, digest)
        start = _with_query(self._host(ref).base_url + f"/v2/{ref.repository}/blobs/uploads/",
                            mount=digest, **{"from": source})
        try:
            response = self._upload_step(
                "POST", ref, start, (201, 202), f"blob mount into {ref.repository_name}",
                headers={"Content-Length": "0"},
                extra_scopes=(repository_scope(source, "pull"),))
        except _RetryableUpload as retry:
            raise retry.error from None
        if response.status_code == 201:
            _finish(response)
            return True
        # 202: the registry opened an ordinary upload session instead; cancel it.
        location = response.headers.get("Location")
        _finish(response)
        if location:
            with contextlib.suppress(Error):
                _finish(self._request("DELETE", ref, urljoin(start, location),
                                      actions="pull,push", session=self._once))
        return False

    # -- referrers ------------------------------------------------------------------

    def serves_referrers_api(self, ref: Reference, digest: str) -> bool:
        """True when the registry answers the OCI referrers API for ``digest`` (200 with
        an image-index content type), as go-containerregistry probes before it decides
        whether to maintain the ``<alg>-<hex>`` tag index itself. A host found without
        the API (as :meth:`referrers` decides it) is not asked again by this client."""
        if ref.api_host in self._no_referrers_api:
            return False
        response = self._request("GET", ref, f"/v2/{ref.repository}/referrers/{digest}",
                                 headers={"Accept": OCI_INDEX})
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        _finish(response)
        if response.status_code in (200, 400, 404, 405):
            if response.status_code == 405 or (
                    response.status_code == 404 and content_type != "application/json"):
                self._no_referrers_api.add(ref.api_host)
            return response.status_code == 200 and content_type == OCI_INDEX
        raise self._error(response, ref, f"referrers of {digest}")

    def referrers(self, ref: Reference, digest: str,
                  artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``digest``: the OCI referrers API, or the
        ``<alg>-<hex>`` tag-schema index on registries without it."""
        parsed = parse_digest(digest)
        document: dict[str, Any] | None = None
        if ref.api_host not in self._no_referrers_api:
            document = self._referrers_api(ref, digest, artifact_type)
        if document is None:  # no referrers API: the tag schema
            try:
                document = self.get_manifest(ref.with_tag(parsed.tag_form)).json()
            except ImageNotFoundError:
                return []
        entries = document.get("manifests")
        if not isinstance(entries, list):
            return []
        if len(entries) > MAX_REFERRERS:
            raise SizeLimitError(f"{digest} has more than {MAX_REFERRERS} referrers")
        found = [d for d in (_descriptor(e) for e in entries) if d is not None]
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    def _referrers_api(self, ref: Reference, digest: str,
                       artifact_type: str | None) -> dict[str, Any] | None:
        """The referrers API's index, or None when the registry has no such API."""
        url = f"/v2/{ref.repository}/referrers/{digest}"
        if artifact_type:
            url = _with_query(url, artifactType=artifact_type)
        response = self._request("GET", ref, url, headers={"Accept": OCI_INDEX})
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if response.status_code == 200 and content_type == OCI_INDEX:
            data = read_bounded(response, MAX_MANIFEST_BYTES, f"referrers of {digest}")
            return Manifest(data, OCI_INDEX, str(sha256_digest(data))).json()
        if response.status_code in (200, 404, 400, 405):
            _finish(response)
            if response.status_code == 405 or (
                    response.status_code == 404 and content_type != "application/json"):
                self._no_referrers_api.add(ref.api_host)
            return None
        raise self._error(response, ref, f"referrers of {digest}")


_T = TypeVar("_T")


def _again_if_cut(fetch: Callable[[], _T], retries: int) -> _T:
    """Run ``fetch`` again (up to ``retries`` times) when the response body was cut."""
    for attempt in range(retries + 1):
        try:
            return fetch()
        except ResponseCutError:
            if attempt == retries:
                raise
            time.sleep(0.2 * 2 ** attempt)
    raise AssertionError("unreachable")


def _next_link(header: str, base: str) -> str | None:
    """The ``rel="next"`` target of an RFC 5988 ``Link`` header, if any."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            target = target.strip()
            if target.startswith("<") and target.endswith(">"):
                return urljoin(base, target[1:-1])
    return None
