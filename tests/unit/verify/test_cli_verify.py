"""``signer verify`` argument handling (no registry needed)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from signer.cli import verify as cli
from signer.errors import UsageError
from tests.unit.verify.cases import LEGACY

IMAGE = "127.0.0.1:5000/a/b@sha256:" + "a" * 64
KEY = str(LEGACY / "srs-busybox-key-no-tlog-valid" / "public-key.pem")
CERT = str(LEGACY / "cimg-fulcio-rekor-valid" / "certificate.pem")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_module_imports_only_the_standard_library() -> None:
    code = ("import sys, signer.cli.verify; "
            "print(sorted(m for m in ('cryptography', 'requests', 'signer.fetch', "
            "'signer.trust') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("argv", "ignore_tlog", "images"), [
    (["--insecure-ignore-tlog", IMAGE], True, [IMAGE]),
    (["--insecure-ignore-tlog=true", IMAGE], True, [IMAGE]),
    (["--insecure-ignore-tlog=false", IMAGE], False, [IMAGE]),
    (["--insecure-ignore-tlog", "false", IMAGE], False, [IMAGE]),
    ([IMAGE], False, [IMAGE]),
])
def test_bool_flags_do_not_swallow_images(argv: list[str], ignore_tlog: bool,
                                          images: list[str]) -> None:
    args = _parse(*argv)
    assert args.insecure_ignore_tlog is ignore_tlog
    assert [*(getattr(args, "images_after_flags", None) or []), *args.images] == images


def test_keyless_needs_identity_and_issuer() -> None:
    with pytest.raises(UsageError, match="--certificate-identity or"):
        cli.build_policy(_parse(IMAGE))
    with pytest.raises(UsageError, match="--certificate-oidc-issuer or"):
        cli.build_policy(_parse("--certificate-identity", "a@b.c", IMAGE))
    policy = cli.build_policy(_parse("--certificate-identity-regexp", "x",
                                     "--certificate-oidc-issuer-regexp", "y", IMAGE))
    assert policy.key is None and policy.identity is not None


def test_key_file_or_certificate() -> None:
    assert cli.build_policy(_parse("--key", KEY, IMAGE)).key is not None
    assert cli.build_policy(_parse("--key", CERT, IMAGE)).key is not None
    with pytest.raises(UsageError):
        cli.build_policy(_parse("--key", KEY, "--certificate-identity", "x", IMAGE))


def test_annotations_and_signed_identity_flags() -> None:
    policy = cli.build_policy(_parse("--key", KEY, "-a", "a=1", "-a", "b=x=y",
                                     "--signed-identity", "match-repository", IMAGE))
    assert dict(policy.annotations) == {"a": "1", "b": "x=y"}
    assert policy.signed_identity.kind == "match-repository"
    with pytest.raises(UsageError, match="invalid annotation"):
        cli.build_policy(_parse("--key", KEY, "-a", "novalue", IMAGE))
    with pytest.raises(UsageError, match="unknown --signed-identity"):
        cli.build_policy(_parse("--key", KEY, "--signed-identity", "whatever", IMAGE))


def test_check_lines() -> None:
    keyless = _parse("--certificate-identity", "x", "--certificate-oidc-issuer", "y", IMAGE)
    assert cli.check_lines(keyless, True) == [
        "The cosign claims were validated",
        "Existence of the claims in the transparency log was verified offline",
        "The code-signing certificate was verified using trusted certificate authority "
        "certificates"]
    keyed = _parse("--key", KEY, "-a", "k=v", IMAGE)
    assert cli.check_lines(keyed, False) == [
        "The specified annotations were verified.", "The cosign claims were validated",
        "The signatures were verified against the specified public key"]


def test_bad_reference_and_no_image_exit_2() -> None:
    from signer.cli.main import main

    assert main(["verify", "--key", KEY, "Not A Reference"]) == 2
    assert main(["verify", "--key", KEY]) == 2


def test_bad_reference_is_named_once_with_the_parser_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from signer.cli.main import main

    assert main(["verify", "--key", KEY, "reg.example/Upper:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("invalid image reference") == 1
    assert "must be lower-case" in err and "hint: repository path components" in err


def test_trust_overrides_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGSTORE_REKOR_PUBLIC_KEY",
                       str(LEGACY / "spectro-librarium-nightly-key-valid" / "public-key.pem"))
    # the base is the public-good root, from the session's TUF repository (conftest)
    trust = cli.load_trust(_parse("--key", KEY, IMAGE))
    assert len(trust.tlogs) == 1
    assert len(trust.certificate_authorities) == 2  # the rest stays public good


def test_the_missing_identity_hint_suggests_a_policy_without_pitfalls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shlex

    from signer.cli.main import main
    from signer.verify.claims import BuildClaims, source_repository_uri
    from signer.verify.policy import IdentityPolicy, identity_warnings

    assert main(["verify", IMAGE]) == 2
    hint = capsys.readouterr().err.split("hint: e.g. ", 1)[1].strip()
    words = shlex.split(hint)
    suggested = dict(zip(words[::2], words[1::2], strict=True))
    # the repository whose workflow run signed (Source Repository URI), not a SAN pattern
    repository = source_repository_uri(suggested["--source-repository"].replace(
        "OWNER/REPO", "octo-org/app"))
    policy = IdentityPolicy(issuer=suggested["--certificate-oidc-issuer"],
                            build=BuildClaims(source_repository=repository))
    assert policy.complete
    assert identity_warnings(policy) == []
