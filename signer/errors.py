"""The one error hierarchy of signer (layer L0).

Every failure a user can cause or meet is an :class:`Error` subclass carrying a
one-line message, an optional hint and the exit code cosign uses for it. Only the
CLI and the action print them; nothing below them prints or exits.
"""

from __future__ import annotations


class Error(Exception):
    """Root of all signer errors: a one-line message, a hint and an exit code."""

    exit_code: int = 1
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        # Keep messages to one line: a multi-line message is folded.
        one_line = " ".join(message.split()) if "\n" in message else message
        super().__init__(one_line)
        self.message = one_line
        self.hint = hint if hint is not None else self.default_hint
        if exit_code is not None:
            self.exit_code = exit_code

    def diagnostics(self) -> str:
        """The text shown to a user: the message, then the hint on its own line."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def __str__(self) -> str:
        return self.message


class UsageError(Error):
    """The command line or an input is malformed (exit 2, as cosign's usage errors)."""

    exit_code = 2


class InputError(Error):
    """A file or value given by the user cannot be used (bad reference, key, layout...)."""


class NetworkError(Error):
    """A service could not be reached or answered unusably."""


class ResponseCutError(NetworkError):
    """A response body ended early (connection cut mid-body); an idempotent request
    may be repeated."""


class ServiceTimeoutError(NetworkError):
    """A service accepted the connection (or not) but did not answer in time."""


class RegistryError(NetworkError):
    """The registry refused or failed a request."""


class AuthenticationError(RegistryError):
    """Credentials were refused or are missing."""


class DigestMismatchError(Error):
    """Content fetched by digest does not hash to that digest."""


class SizeLimitError(Error):
    """A manifest, blob or response is larger than we accept."""


class ImageNotFoundError(Error):
    """The image or tag does not exist (cosign exit 11)."""

    exit_code = 11


class NoSignaturesError(Error):
    """The image has no signatures at all (cosign exit 10)."""

    exit_code = 10


class VerificationError(Error):
    """One check on one signature or bundle failed."""

    exit_code = 12


class NoMatchingSignaturesError(VerificationError):
    """Signatures exist but none passed every check (cosign exit 12)."""

    exit_code = 12


class TrustError(Error):
    """Trust material (trusted root, keys, CA files) is missing or malformed."""


class IdentityTokenError(Error):
    """No usable OIDC identity token."""


class SigningError(Error):
    """Signing failed (Fulcio, Rekor or publishing the signature)."""
