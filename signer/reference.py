"""Container image references, parsed as Docker and containerd parse them (layer L1).

``alpine`` means ``docker.io/library/alpine:latest``; the first path component is a
registry only if it contains ``.`` or ``:``, is ``localhost``, or is a bracketed IPv6
address; the repository is lower-case path components joined by ``/``; a tag follows
the last ``:`` after the last ``/``; a digest follows ``@``. Every part is validated
and an error names the part that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from signer.digest import parse_digest
from signer.errors import InputError

#: Docker Hub as users write it, and the host its API is really served from.
DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
#: How go-containerregistry (and so cosign) names Docker Hub in repository names.
DOCKER_HUB_GGCR_NAME = "index.docker.io"
DEFAULT_TAG = "latest"
#: Longest repository name (registry + "/" + path) Docker accepts.
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+(?:%[a-zA-Z0-9]+)?\]"
_REGISTRY_RE = re.compile(rf"^(?:{_DOMAIN_NAME}|{_IPV6})(?::([0-9]+))?$")
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")


def _error(text: str, problem: str, hint: str) -> InputError:
    return InputError(f"invalid image reference {text!r}: {problem}", hint=hint)


class Reference(NamedTuple):
    """A parsed, normalised image reference (a ``NamedTuple``: see :mod:`signer.digest`).

    ``registry`` is normalised (``docker.io`` for Docker Hub, however written);
    ``repository`` is the path (``library/alpine`` on Hub for ``alpine``). ``tag`` and
    ``digest`` are what the user wrote; neither means the implicit ``latest``.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host (and port) serving the registry API: ``registry-1.docker.io`` for Hub."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def repository_name(self) -> str:
        """cosign's docker-reference form (ggcr ``Repository.Name()``).

        ``index.docker.io/library/alpine`` for Hub, ``127.0.0.1:5000/x/y`` otherwise.
        """
        host = DOCKER_HUB_GGCR_NAME if self.registry == DOCKER_HUB else self.registry
        return f"{host}/{self.repository}"

    @property
    def name(self) -> str:
        """ggcr ``Reference.Name()``: repository name plus ``@digest``, else ``:tag``.

        A reference without tag or digest names the implicit ``:latest``.
        """
        if self.digest:
            return f"{self.repository_name}@{self.digest}"
        return f"{self.repository_name}:{self.tag or DEFAULT_TAG}"

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/`` in the API: the digest, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and 127.0.0.0/8 or ``::1`` registries (any port)."""
        return is_loopback_host(self.registry)

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (validated); the tag is dropped."""
        parse_digest(digest)
        return self._replace(tag=None, digest=digest)

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag`` (validated); any digest is dropped."""
        if not _TAG_RE.match(tag):
            raise InputError(f"invalid tag {tag!r}", hint=_TAG_HINT)
        return self._replace(tag=tag, digest=None)

    def repository_only(self) -> Reference:
        """The repository without tag or digest."""
        return self._replace(tag=None, digest=None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


_TAG_HINT = ("a tag is 1-128 letters, digits, '_', '.' and '-', "
             "not starting with '.' or '-'")
_REPOSITORY_HINT = (
    "repository path components are lower-case letters and digits separated by "
    "'.', '_', '__' or '-' (e.g. 'library/alpine')"
)


def split_host_port(registry: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets) into the bare host and the port."""
    if registry.startswith("["):
        end = registry.index("]")
        host, rest = registry[1:end], registry[end + 1:]
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = registry.partition(":")
    return host, int(port) if sep else None


def is_loopback_host(registry: str) -> bool:
    """True if ``registry`` (``host[:port]``) is ``localhost`` or a loopback IP."""
    host, _port = split_host_port(registry)
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _looks_like_registry(component: str) -> bool:
    # Docker's splitDockerDomain: a registry has '.' or ':', is localhost, or is
    # an IPv6 literal; an upper-case first component is also taken as a registry
    # (so that "Foo/bar" is reported as a bad host rather than silently on Hub).
    return (
        "." in component or ":" in component or component == "localhost"
        or component.startswith("[") or component.lower() != component
    )


def _validate_registry(text: str, registry: str) -> None:
    match = _REGISTRY_RE.match(registry)
    if not match:
        raise _error(text, f"invalid registry host {registry!r}",
                     "a registry is a host name, IPv4 address or [IPv6] address, "
                     "optionally with :port")
    port = match.group(1)
    if port is not None and not 0 < int(port) <= 65535:
        raise _error(text, f"invalid registry port {port!r}", "a port is 1-65535")
    if registry.startswith("["):
        inner = registry[1:registry.index("]")].split("%")[0]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise _error(text, f"invalid IPv6 address {registry!r}",
                         "write IPv6 registries as [::1]:5000") from None


def _validate_repository(text: str, repository: str) -> None:
    if not repository:
        raise _error(text, "missing repository name", "write REGISTRY/REPOSITORY[:TAG]")
    if repository.lower() != repository:
        raise _error(text, f"repository name {repository!r} must be lower-case", _REPOSITORY_HINT)
    for component in repository.split("/"):
        if not _PATH_COMPONENT_RE.match(component):
            bad = component or "(empty)"
            raise _error(text, f"invalid repository path component {bad!r}", _REPOSITORY_HINT)


def parse_reference(text: str) -> Reference:
    """Parse an image reference as Docker does; raise :class:`InputError` naming the bad part.

    Accepts ``NAME``, ``NAME:TAG``, ``NAME@DIGEST`` and ``NAME:TAG@DIGEST`` where NAME is
    ``[REGISTRY/]REPOSITORY``. The registry defaults to ``docker.io`` and a one-component
    Hub repository gets the ``library/`` prefix; ``index.docker.io`` means ``docker.io``.
    """
    if not isinstance(text, str) or not text:
        raise InputError("empty image reference", hint="write e.g. registry.example/repo:tag")
    if text != text.strip() or any(c.isspace() for c in text):
        raise _error(text, "contains white space", "remove the spaces")

    remainder, at, digest = text.partition("@")
    if at:
        if not digest:
            raise _error(text, "missing digest after '@'", "write NAME@sha256:<64 hex>")
        try:
            parse_digest(digest)
        except InputError as exc:
            raise _error(text, f"invalid digest {digest!r}",
                         exc.hint or "write sha256:<64 hex>") from None

    tag: str | None = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG_RE.match(tag):
            raise _error(text, f"invalid tag {tag!r}", _TAG_HINT)

    if not remainder:
        raise _error(text, "missing repository name", "write REGISTRY/REPOSITORY[:TAG]")

    first, sep, rest = remainder.partition("/")
    if sep and _looks_like_registry(first):
        registry, repository = first, rest
        _validate_registry(text, registry)
        if registry == DOCKER_HUB_GGCR_NAME:
            registry = DOCKER_HUB
    else:
        registry, repository = DOCKER_HUB, remainder

    if registry == DOCKER_HUB and repository and "/" not in repository:
        repository = f"library/{repository}"
    _validate_repository(text, repository)
    if _HEX64_RE.match(text):
        raise _error(text, "a 64-hex string is an image ID, not a repository",
                     "use NAME@sha256:<hex> to name an image by digest")

    if len(registry) + 1 + len(repository) > MAX_NAME_LENGTH:
        raise _error(text, f"repository name is longer than {MAX_NAME_LENGTH} characters",
                     "use a shorter name")
    return Reference(registry=registry, repository=repository, tag=tag, digest=digest or None)
