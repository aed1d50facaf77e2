"""Registry credentials and where they come from (layer L3).

A *keychain* maps a registry host to :class:`Credentials` or None (anonymous). The
sources, in the order :func:`default_keychain` consults them: credentials given
explicitly; Docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``) with its
``credHelpers``/``credsStore`` programs (``docker-credential-<name> get``, the server
URL on stdin, the secret read from stdout -- never in argv) and ``auths`` entries;
``GITHUB_TOKEN`` for ``ghcr.io``. Secrets never appear in ``repr()`` or ``str()``; a
helper program runs with a scrubbed environment.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from signer.errors import AuthenticationError, InputError
from signer.reference import DOCKER_HUB, DOCKER_HUB_API_HOST, DOCKER_HUB_GGCR_NAME

#: The key Docker uses for Hub in config.json and with credential helpers.
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
GITHUB_REGISTRY = "ghcr.io"
#: Username Docker's credential helpers return for an identity (refresh) token.
IDENTITY_TOKEN_USERNAME = "<token>"  # noqa: S105 (a marker, not a secret)
HELPER_TIMEOUT_SECONDS = 20.0
#: What a credential helper is given of our environment: what it needs to find its
#: store (home, locale, temp, proxies, D-Bus, pass/GnuPG, Windows profile paths) and the
#: variables of the cloud helpers (ecr-login, gcr, acr-env) -- nothing else, so that
#: our own secrets (action inputs, GITHUB_TOKEN, OIDC request tokens, key passwords)
#: never reach a program chosen by a config file.
HELPER_ENVIRONMENT = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
    "TMPDIR", "TMP", "TEMP", "DOCKER_CONFIG", "DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
    "GNUPGHOME", "PASSWORD_STORE_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE", "APPDATA",
    "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "HOMEDRIVE", "HOMEPATH",
})
HELPER_ENVIRONMENT_PREFIXES = ("LC_", "XDG_", "AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_")
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class Credentials:
    """A username with a password (or token), or an OAuth2 identity (refresh) token.

    The secret is kept out of ``repr``/``str`` so the object can be logged safely. A
    plain immutable class, not a tuple: a tuple would hand the secret to anything that
    iterates or serialises it (``json.dumps``, ``*credentials``).
    """

    __slots__ = ("identity_token", "password", "username")
    username: str
    password: str
    identity_token: str | None

    def __init__(self, username: str, password: str = "",
                 identity_token: str | None = None) -> None:
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "password", password)
        object.__setattr__(self, "identity_token", identity_token)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Credentials are immutable (cannot set {name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.username, self.password, self.identity_token) == (
            other.username, other.password, other.identity_token)

    def __hash__(self) -> int:
        return hash((self.username, self.password, self.identity_token))

    def __repr__(self) -> str:
        kind = "identity-token" if self.identity_token else "password"
        return f"Credentials(username={self.username!r}, {kind}=***)"

    def __str__(self) -> str:
        return self.__repr__()

    def basic_header(self) -> str:
        """The ``Authorization: Basic`` value for these credentials."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret strings, for redaction."""
        return tuple(s for s in (self.password, self.identity_token) if s)


class Keychain(Protocol):
    """Something that knows the credentials for a registry host (or returns None)."""

    def credentials_for(self, registry: str) -> Credentials | None:
        """Credentials for ``registry`` (``host[:port]`` as in a reference), or None."""
        ...


def _hub_aliases(registry: str) -> tuple[str, ...]:
    if registry in (DOCKER_HUB, DOCKER_HUB_GGCR_NAME, DOCKER_HUB_API_HOST):
        return (DOCKER_HUB_CONFIG_KEY, DOCKER_HUB, DOCKER_HUB_GGCR_NAME, DOCKER_HUB_API_HOST)
    return (registry,)


def _normalise_config_key(key: str) -> str:
    """``https://host:port/v1/`` -> ``host:port`` (Hub keys keep their v1 URL form)."""
    if key == DOCKER_HUB_CONFIG_KEY:
        return key
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key.split("/", 1)[0]


class StaticKeychain:
    """Fixed credentials: for the named registries, or for any registry if none are named.

    Used for explicit ``--username/--password`` style input. The client sends them
    only to the registry host that challenges for them.
    """

    def __init__(self, credentials: Credentials, registries: frozenset[str] = frozenset()
                 ) -> None:
        self.credentials = credentials
        self.registries = registries

    def __repr__(self) -> str:
        return f"StaticKeychain(credentials={self.credentials!r}, registries={self.registries!r})"

    def credentials_for(self, registry: str) -> Credentials | None:
        """The fixed credentials if ``registry`` is one they are for."""
        if not self.registries or registry in self.registries:
            return self.credentials
        return None


class GitHubTokenKeychain:
    """``GITHUB_TOKEN`` (as in GitHub Actions) for ``ghcr.io``; nothing elsewhere."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def __repr__(self) -> str:
        return "GitHubTokenKeychain()"

    def credentials_for(self, registry: str) -> Credentials | None:
        """A token credential for ghcr.io when ``GITHUB_TOKEN`` is set."""
        token = self.environ.get("GITHUB_TOKEN")
        if registry != GITHUB_REGISTRY or not token:
            return None
        return Credentials(self.environ.get("GITHUB_ACTOR") or "github-actions", token)


#: What may follow ``docker-credential-``: a program name, never a path.
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def helper_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environ`` a credential helper gets (see :data:`HELPER_ENVIRONMENT`)."""
    return {name: value for name, value in environ.items()
            if name in HELPER_ENVIRONMENT or name.upper() in HELPER_ENVIRONMENT
            or name.startswith(HELPER_ENVIRONMENT_PREFIXES)}


def run_credential_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper> get`` for ``server``'s credentials.

    The server URL goes on stdin and the secret comes back on stdout, as Docker's
    protocol prescribes; the program runs with :func:`helper_environment`. A missing
    program or "not found" answer gives None.
    """
    import shutil  # here: most pushes and verifications never run a helper
    import subprocess

    if not _HELPER_NAME.fullmatch(helper):
        raise InputError(f"Docker config names credential helper {helper!r}, which is not a "
                         "program name", hint="a helper is docker-credential-NAME on PATH; "
                         "NAME holds no path (fix credsStore/credHelpers in config.json)")
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "get"], input=server.encode(), capture_output=True,
                              timeout=HELPER_TIMEOUT_SECONDS, check=False,
                              env=helper_environment(os.environ))
    except (OSError, subprocess.TimeoutExpired):
        raise AuthenticationError(f"credential helper docker-credential-{helper} did not answer",
                                  hint="check the helper program or remove it from "
                                       "config.json") from None
    if done.returncode != 0:
        # Helpers say "credentials not found in native keychain" for unknown servers.
        return None
    try:
        answer = json.loads(done.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise AuthenticationError(f"credential helper docker-credential-{helper} gave a "
                                  "malformed answer", hint="expected JSON with Username "
                                  "and Secret") from None
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        return None
    if username == IDENTITY_TOKEN_USERNAME:
        return Credentials(username, "", identity_token=secret)
    return Credentials(username, secret)


class DockerConfigKeychain:
    """Credentials from Docker's ``config.json``.

    ``credHelpers[host]`` wins; then ``credsStore`` (falling back to ``auths``);
    then ``auths`` entries (``auth`` base64 ``user:password``, or ``username``/
    ``password``, or ``identitytoken``).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else docker_config_path()
        self._config: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"DockerConfigKeychain(path={str(self.path)!r})"

    def _load(self) -> dict[str, Any]:
        if self._config is None:
            self._config = _read_docker_config(self.path)
        return self._config

    def credentials_for(self, registry: str) -> Credentials | None:
        """Credentials for ``registry`` from helpers or the ``auths`` section."""
        config = self._load()
        aliases = _hub_aliases(registry)
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            for alias in aliases:
                helper = helpers.get(alias)
                if isinstance(helper, str) and helper:
                    return run_credential_helper(helper, aliases[0])
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            found = run_credential_helper(store, aliases[0])
            if found is not None:
                return found
        auths = config.get("auths")
        if not isinstance(auths, dict):
            return None
        entries = {_normalise_config_key(k): v for k, v in auths.items() if isinstance(k, str)}
        for alias in aliases:
            entry = entries.get(alias)
            if isinstance(entry, dict):
                found = _credentials_from_auth_entry(entry, self.path)
                if found is not None:
                    return found
        return None


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    directory = os.environ.get("DOCKER_CONFIG")
    base = Path(directory) if directory else Path.home() / ".docker"
    return base / "config.json"


def _read_docker_config(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise InputError(f"Docker config {path} is too large")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError):
        raise InputError(f"cannot read Docker config {path}",
                         hint="fix or remove the file (it must be JSON)") from None
    return data if isinstance(data, dict) else {}


def _credentials_from_auth_entry(entry: Mapping[str, Any], path: Path) -> Credentials | None:
    token = entry.get("identitytoken")
    encoded = entry.get("auth")
    username: Any = entry.get("username")
    password: Any = entry.get("password")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InputError(f"malformed 'auth' entry in {path}",
                             hint="expected base64 of user:password") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InputError(f"malformed 'auth' entry in {path}",
                             hint="expected base64 of user:password")
    if isinstance(token, str) and token:
        name = username if isinstance(username, str) and username else IDENTITY_TOKEN_USERNAME
        return Credentials(name, "", identity_token=token)
    if isinstance(username, str) and username and isinstance(password, str) and password:
        return Credentials(username, password)
    return None


class ChainKeychain:
    """The first non-None answer of several keychains."""

    def __init__(self, keychains: tuple[Keychain, ...]) -> None:
        self.keychains = keychains

    def __repr__(self) -> str:
        return f"ChainKeychain(keychains={self.keychains!r})"

    def credentials_for(self, registry: str) -> Credentials | None:
        """Ask each keychain in order."""
        for keychain in self.keychains:
            found = keychain.credentials_for(registry)
            if found is not None:
                return found
        return None


class AnonymousKeychain:
    """No credentials for anyone."""

    def __repr__(self) -> str:
        return "AnonymousKeychain()"

    def credentials_for(self, registry: str) -> Credentials | None:
        """Always None."""
        return None


def default_keychain(explicit: Credentials | None = None,
                     explicit_registries: Iterable[str] = ()) -> Keychain:
    """Explicit credentials, then Docker's config.json, then ``GITHUB_TOKEN`` for ghcr.io."""
    chain: list[Keychain] = []
    if explicit is not None:
        chain.append(StaticKeychain(explicit, frozenset(explicit_registries)))
    chain += [DockerConfigKeychain(), GitHubTokenKeychain()]
    return ChainKeychain(tuple(chain))
