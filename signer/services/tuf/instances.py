"""Which TUF repository to trust: its URL and the root.json that bootstraps it.

Public good and staging ship with signer (their ``root.json`` is embedded).
``signer initialize`` remembers another repository (``--mirror``) with its root
(``--root``) in the cache directory; every later command uses it until
``signer initialize`` is run again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from signer.errors import TrustError
from signer.services.tuf.cache import atomic_write, repository_dir

PUBLIC_GOOD_MIRROR = "https://tuf-repo-cdn.sigstore.dev"
STAGING_MIRROR = "https://tuf-repo-cdn.sigstage.dev"
#: the file under the cache base that names the repository ``signer initialize`` chose
INSTANCE_FILE = "instance.json"
#: the bootstrap root ``signer initialize --root`` was given, kept in the repository's dir
BOOTSTRAP_FILE = "bootstrap-root.json"
_MAX_ROOT_BYTES = 512 * 1024

_EMBEDDED = {PUBLIC_GOOD_MIRROR: "public-good", STAGING_MIRROR: "staging"}


@dataclass(frozen=True)
class TufInstance:
    """A TUF repository: metadata at ``mirror``, targets at ``mirror/targets/``."""

    mirror: str
    bootstrap_root: bytes
    #: "public-good", "staging" or "" (a private repository)
    embedded_name: str = ""

    @property
    def targets_url(self) -> str:
        """Base URL of the target files."""
        return f"{self.mirror}/targets/"


def normalise_mirror(url: str) -> str:
    """The mirror URL without trailing slashes; only http(s) URLs are accepted."""
    text = url.strip().rstrip("/")
    if not text.startswith(("https://", "http://")) or len(text) > 2048:
        raise TrustError(f"TUF mirror {text[:200]!r} is not an http(s) URL",
                         hint="e.g. --mirror https://tuf-repo-cdn.sigstore.dev")
    if "@" in text.split("/", 3)[2]:
        raise TrustError("a TUF mirror URL must not carry a user name or password")
    return text


def embedded_file(name: str, filename: str) -> bytes | None:
    """An embedded file of the public-good or staging repository (None if absent)."""
    if name == "public-good" and filename in ("trusted_root.json", "signing_config.v0.2.json"):
        # public good's targets are the package's defaults (data/), where present
        path = resources.files("signer").joinpath(f"data/{filename}")
    else:
        path = resources.files("signer").joinpath(f"data/tuf/{name}/{filename}")
    try:
        return path.read_bytes()
    except OSError:
        return None


def embedded_instance(mirror: str) -> TufInstance | None:
    """Public good or staging with the embedded root, if ``mirror`` is one of them."""
    name = _EMBEDDED.get(mirror)
    if name is None:
        return None
    root = embedded_file(name, "root.json")
    assert root is not None, "the package data lacks an embedded TUF root"
    return TufInstance(mirror, root, name)


def public_good() -> TufInstance:
    """The public-good repository with its embedded root."""
    instance = embedded_instance(PUBLIC_GOOD_MIRROR)
    assert instance is not None
    return instance


def staging() -> TufInstance:
    """The staging repository with its embedded root."""
    instance = embedded_instance(STAGING_MIRROR)
    assert instance is not None
    return instance


def read_root_file(path: str) -> bytes:
    """A root.json given on the command line (bounded, must be TUF root metadata)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_ROOT_BYTES + 1)
    except OSError as exc:
        raise TrustError(f"cannot read TUF root {path}: {exc.strerror}") from None
    if len(data) > _MAX_ROOT_BYTES:
        raise TrustError(f"TUF root {path} is larger than {_MAX_ROOT_BYTES} bytes")
    try:
        signed = json.loads(data)["signed"]
        is_root = signed["_type"] == "root"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        is_root = False
    if not is_root:
        raise TrustError(f"{path} is not TUF root metadata (root.json)",
                         hint="pass the repository's root.json, e.g. its 1.root.json")
    return data


def choose_instance(mirror: str | None, root_file: str | None, use_staging: bool) -> TufInstance:
    """The repository that ``--mirror``/``--root``/``--staging`` name.

    ``--staging`` alone is the staging repository; ``--mirror`` alone must be public
    good, staging or a mirror of public good (its embedded root is used); a private
    repository needs its ``--root``.
    """
    if use_staging and mirror is None:
        mirror = STAGING_MIRROR
    url = normalise_mirror(mirror) if mirror is not None else PUBLIC_GOOD_MIRROR
    if root_file is not None:
        return TufInstance(url, read_root_file(root_file), _EMBEDDED.get(url, ""))
    known = embedded_instance(url)
    if known is not None:
        return known
    base = staging() if use_staging else public_good()
    return TufInstance(url, base.bootstrap_root, "")


def remember(base: Path, instance: TufInstance) -> None:
    """Record ``instance`` as the one later commands use (``signer initialize``)."""
    stored = repository_dir(base, instance.mirror) / BOOTSTRAP_FILE
    if embedded_instance(instance.mirror) != instance:  # not public good/staging as shipped
        atomic_write(stored, instance.bootstrap_root)
    else:
        stored.unlink(missing_ok=True)  # an earlier --root for this URL no longer applies
    atomic_write(base / INSTANCE_FILE,
                 json.dumps({"mirror": instance.mirror}).encode() + b"\n")


def remembered_instance(base: Path) -> TufInstance:
    """The repository ``signer initialize`` chose, else public good."""
    try:
        record = json.loads((base / INSTANCE_FILE).read_bytes()[:65536])
        mirror = normalise_mirror(record["mirror"])
    except FileNotFoundError:
        return public_good()
    except (OSError, ValueError, KeyError, TypeError, TrustError):
        raise TrustError(f"{base / INSTANCE_FILE} is unreadable",
                         hint="run 'signer initialize' again") from None
    stored = repository_dir(base, mirror) / BOOTSTRAP_FILE
    try:
        return TufInstance(mirror, stored.read_bytes(), _EMBEDDED.get(mirror, ""))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise TrustError(f"cannot read {stored}: {exc.strerror}") from None
    known = embedded_instance(mirror)
    if known is not None:
        return known
    return TufInstance(mirror, public_good().bootstrap_root, "")
