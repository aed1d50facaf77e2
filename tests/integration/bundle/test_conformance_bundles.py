"""All 96 Sigstore bundle conformance cases through the public CLI (`signer verify-blob`).

Each case runs with the trust material and policy its expected.json names, with the
artifact file and with ``--digest`` (where the artifact exists). In-process via
``signer.cli.main.main`` for speed; a sample also runs as ``python -m signer``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signer.cli.main import main
from tests.integration.bundle.conftest import BUNDLE_CASES, CONFORMANCE_DIR, load_case

_PARAMS = [(name, form) for name in BUNDLE_CASES for form in load_case(name).forms()]


def test_corpus_has_all_96_cases(conformance_dir: Path) -> None:
    assert len(BUNDLE_CASES) == 96
    expectations = [load_case(name).expected["expect"] for name in BUNDLE_CASES]
    assert expectations.count("pass") == 33 and expectations.count("fail") == 63


@pytest.mark.parametrize(("name", "form"), _PARAMS, ids=[f"{n}[{f}]" for n, f in _PARAMS])
def test_bundle_case_via_cli(name: str, form: str, conformance_dir: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case(name)
    code = main(case.argv(form))
    err = capsys.readouterr().err
    if case.expect_pass:
        assert code == 0, err
        assert err.strip().endswith("Verified OK")
    else:
        assert code == 1, err  # a failed check, not a usage error or a crash
        error_lines = [line for line in err.splitlines() if line.startswith("Error:")]
        assert len(error_lines) == 1, err
        assert "internal error" not in err


# A sample as a real subprocess: pass and fail, file and digest, v1/v2, DSSE, key.
_SUBPROCESS_SAMPLE = [
    ("sc-happy-path-v0.3", "file"),
    ("sc-rekor2-dsse-happy-path", "digest"),
    ("sc-managed-key-happy-path", "file"),
    ("sgo-sigstorejs-2.0.0-provenance", "digest"),
    ("sc-checkpoint-bad-keyhint_fail", "file"),
    ("spy-tsa-many-timestamps_fail", "digest"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "form"), _SUBPROCESS_SAMPLE)
def test_bundle_case_via_subprocess(name: str, form: str, conformance_dir: Path) -> None:
    case = load_case(name)
    result = subprocess.run([sys.executable, "-m", "signer", *case.argv(form)],
                            capture_output=True, text=True, timeout=60, check=False)
    if case.expect_pass:
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().endswith("Verified OK")
    else:
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("Error: ")
    assert result.stdout == ""


_FAILURE_NAMES_CHECK = {
    "sc-checkpoint-bad-keyhint_fail": "checkpoint",
    "sc-inclusion-proof-corrupted-hash_fail": "inclusion proof",
    "sc-set-invalid-signature_fail": "SET",
    "sc-rekor2-timestamp-payload-mismatch_fail": "TSA",
    "sc-intoto-expired-certificate_fail": "certificate chain",
    "sc-invalid-ct-key_fail": "SCT",
    "spy-bundle-v0.1-staging-wrong-identity_fail": "identity",
    "sc-wrong-material_fail": "digest",
    "sgo-sigstorejs-2.0.0-provenance-wrong-digest_fail": "digest",
    "sc-wrong-hashedrekord-entry_fail": "log entry",
}


@pytest.mark.parametrize(("name", "check"), sorted(_FAILURE_NAMES_CHECK.items()))
def test_failure_message_names_the_check(name: str, check: str, conformance_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case(name)
    assert main(case.argv("digest")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {check}:"), err


def test_legacy_sign_blob_bundle_case(conformance_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    case = CONFORMANCE_DIR / "cosign-legacy/srs-cosign-sign-blob-bundle-2022-valid"
    argv = ["verify-blob", "--bundle", str(case / "cosign-blob-bundle.json"),
            "--certificate-identity", "daniel.bevenius@gmail.com",
            "--certificate-oidc-issuer", "https://github.com/login/oauth",
            "--trusted-root", str(CONFORMANCE_DIR / "trust/public-good-trusted_root.json"),
            "--digest", "sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1"]
    assert main(argv) == 0, capsys.readouterr().err
    # the same bundle for another digest, identity or trust must fail
    other_digest = [*argv[:-1], "sha256:" + "0" * 64]
    assert main(other_digest) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("Error: digest:")
    wrong_identity = [a if a != "daniel.bevenius@gmail.com" else "x@example.com" for a in argv]
    assert main(wrong_identity) == 1
    assert "Error: identity:" in capsys.readouterr().err
    staging = [a.replace("public-good-trusted_root", "staging-trusted_root") for a in argv]
    assert main(staging) == 1
    assert "Error: transparency log:" in capsys.readouterr().err
