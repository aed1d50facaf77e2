"""``signer verify-blob``: usage errors, input errors and exit codes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from signer.cli.main import main

BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def _base(conformance_dir: Path, case: str = "sc-happy-path-v0.3") -> list[str]:
    path = conformance_dir / "bundles" / case
    return ["verify-blob", "--bundle", str(path / "bundle.json"), "--trusted-root",
            str(conformance_dir / "trust/public-good-trusted_root.json")]


IDENTITY = ["--certificate-identity", BEACON, "--certificate-oidc-issuer", GITHUB_ISSUER]


@pytest.mark.parametrize("extra", [
    [],  # neither blob nor digest
    ["--digest", "sha256:" + "a" * 64, "BLOB"],  # both
    ["--certificate-identity", BEACON, "--digest", "sha256:" + "a" * 64],  # no issuer
    ["--certificate-oidc-issuer", GITHUB_ISSUER, "--digest", "sha256:" + "a" * 64],  # no identity
    ["--key", "k.pub", *IDENTITY, "--digest", "sha256:" + "a" * 64],  # key and identity
    [*IDENTITY, "--digest", "md5:abc"],  # malformed digest
])
def test_usage_errors_exit_2(conformance_dir: Path, extra: list[str],
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_base(conformance_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) <= 2


def test_missing_bundle_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify-blob", "--digest", "sha256:" + "a" * 64])
    assert exit_info.value.code == 2


def test_unreadable_or_malformed_inputs_exit_1(conformance_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    artifact = str(conformance_dir / "bundles/sc-happy-path-v0.3/artifact")
    missing = ["verify-blob", "--bundle", str(tmp_path / "nope.json"), *IDENTITY, artifact]
    assert main(missing) == 1
    assert "cannot read bundle" in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert main(["verify-blob", "--bundle", str(garbage), *IDENTITY, artifact]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    assert main([*_base(conformance_dir), *IDENTITY, str(tmp_path / "missing-blob")]) == 1
    assert "cannot read artifact" in capsys.readouterr().err


def test_success_and_failure_output(conformance_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    artifact = conformance_dir / "bundles/sc-happy-path-v0.3/artifact"
    assert main([*_base(conformance_dir), *IDENTITY, str(artifact)]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "Verified OK\n")
    other = tmp_path / "other"
    other.write_bytes(artifact.read_bytes() + b"x")
    assert main([*_base(conformance_dir), *IDENTITY, str(other)]) == 1
    assert capsys.readouterr().err.startswith("Error: digest:")


def test_key_flag(conformance_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = conformance_dir / "bundles/sc-managed-key-happy-path"
    argv = [*_base(conformance_dir, "sc-managed-key-happy-path"), "--key", str(path / "key.pub"),
            str(path / "artifact")]
    assert main(argv) == 0
    wrong = conformance_dir / "bundles/sc-managed-key-wrong-key_fail/key.pub"
    argv[argv.index("--key") + 1] = str(wrong)
    assert main(argv) == 1
    assert "Error: " in capsys.readouterr().err


def test_cli_module_imports_only_stdlib_at_top_level() -> None:
    source = Path(__file__).resolve().parents[3] / "signer/cli/verify_blob.py"
    tree = ast.parse(source.read_text())
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {alias.name.split(".")[0] for node in top if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {(node.module or "").split(".")[0] for node in top
              if isinstance(node, ast.ImportFrom)}
    assert names <= {"__future__", "argparse", "os", "sys", "typing", "json", "warnings"}


def test_expected_json_sanity(conformance_dir: Path) -> None:
    # the policy the usage tests rely on is the case's own
    expected = json.loads(
        (conformance_dir / "bundles/sc-happy-path-v0.3/expected.json").read_text())
    assert (expected["identity"], expected["issuer"]) == (BEACON, GITHUB_ISSUER)


def test_github_workflow_flags(conformance_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = conformance_dir / "bundles/spy-bundle-v0.3-github-whl-prod"
    expected = json.loads((case / "expected.json").read_text())
    ext = expected["fulcio_extensions"]
    argv = ["verify-blob", "--bundle", str(case / "bundle.json"),
            "--trusted-root", str(conformance_dir / "trust/public-good-trusted_root.json"),
            "--certificate-identity", expected["identity"],
            "--certificate-oidc-issuer", expected["issuer"],
            "--certificate-github-workflow-trigger", ext["GitHubWorkflowTrigger"],
            "--certificate-github-workflow-sha", ext["GitHubWorkflowSHA"],
            "--certificate-github-workflow-name", ext["GitHubWorkflowName"],
            "--certificate-github-workflow-repository", ext["GitHubWorkflowRepository"],
            "--certificate-github-workflow-ref", ext["GitHubWorkflowRef"],
            "--digest", expected["artifact_digest"]]
    assert main(argv) == 0, capsys.readouterr().err
    argv[argv.index("--certificate-github-workflow-ref") + 1] = "refs/heads/main"
    assert main(argv) == 1
    assert "Error: identity: expected GitHub Workflow Ref 'refs/heads/main'" in \
        capsys.readouterr().err


@pytest.mark.parametrize("extra_material", ["x509CertificateChain", "publicKey"])
def test_verification_material_holds_one_kind_of_key_material(
        conformance_dir: Path, tmp_path: Path, extra_material: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``certificate``, ``x509CertificateChain`` and ``publicKey`` are one protobuf
    oneof: a bundle that sets two of them is malformed (Go's protojson refuses it),
    even when the extra one holds the same certificate."""
    case = conformance_dir / "bundles" / "sc-happy-path-v0.3"
    bundle = json.loads((case / "bundle.json").read_text())
    material = bundle["verificationMaterial"]
    material[extra_material] = ({"certificates": [material["certificate"]]}
                                if extra_material == "x509CertificateChain"
                                else {"hint": "key"})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    code = main(["verify-blob", "--bundle", str(path), "--trusted-root",
                 str(conformance_dir / "trust/public-good-trusted_root.json"), *IDENTITY,
                 str(case / "artifact")])
    assert code == 1
    assert "verificationMaterial" in capsys.readouterr().err
