"""verify-blob with the trusted root through TUF: online, --offline from the cache,
--offline from the embedded root; the embedded bootstrap roots are the corpus's."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.cli.main import main
from signer.services.tuf.instances import public_good, staging
from tests.corpus import BUNDLES, TRUST

BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
CASE = BUNDLES / "sc-happy-path-v0.3"
ARGV = ["verify-blob", "--bundle", str(CASE / "bundle.json"), "--certificate-identity", BEACON,
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
        str(CASE / "artifact")]


def test_verify_blob_through_tuf_then_offline_from_the_cache(
        capsys: pytest.CaptureFixture[str]) -> None:
    # the session's TUF_ROOT names a local stand-in of public good (tests/conftest.py)
    assert main(ARGV) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == "Verified OK\n"
    assert main([*ARGV, "--offline"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("Offline: trusted root from the TUF cache of http://127.0.0.1:")
    assert "last refreshed" in err and err.endswith("Verified OK\n")


def test_verify_blob_offline_without_a_cache_uses_the_embedded_root_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUF_ROOT", str(tmp_path))  # nothing initialised: public good
    assert main([*ARGV, "--offline"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("Offline: no TUF cache for https://tuf-repo-cdn.sigstore.dev; "
                          "using the public-good trusted root embedded in signer")
    assert not any(tmp_path.iterdir())  # offline wrote nothing


def test_verify_blob_without_network_or_offline_fails_closed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUF_ROOT", str(tmp_path))  # public good, which is unreachable here
    assert main(ARGV) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "tuf-repo-cdn.sigstore.dev is unreachable" in lines[0]
    assert "--offline" in lines[1]


def test_the_embedded_bootstrap_roots_are_the_published_ones() -> None:
    assert public_good().bootstrap_root == (TRUST / "public-good-tuf-root.json").read_bytes()
    assert staging().bootstrap_root == (TRUST / "staging-tuf-root.json").read_bytes()


WITH_FILE = ["verify-blob", "--trusted-root", str(TRUST / "public-good-trusted_root.json"),
             *ARGV[1:]]


@pytest.mark.parametrize("argv", [["verify", "--help"], WITH_FILE],
                         ids=["help", "trusted-root-file"])
def test_tuf_is_imported_only_when_used(argv: list[str]) -> None:
    import json
    import subprocess
    import sys

    script = ("import json, sys\n"
              "from signer.cli.main import main\n"
              "try:\n    code = main(json.loads(sys.argv[1]))\n"
              "except SystemExit as done:\n    code = done.code\n"
              "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tuf', 'securesystemslib', 'signer'))\n"
              "sys.__stdout__.write(json.dumps([code, loaded]))\n")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(argv)],
                          capture_output=True, text=True, timeout=60, check=False)
    code, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr[-500:]
    assert "signer.cli.verify" in loaded or "signer.cli.verify_blob" in loaded
    assert not [name for name in loaded if not name.startswith("signer")]


@pytest.mark.parametrize(("flag", "code"), [
    (["--offline", str(CASE / "artifact")], 0),  # the word after --offline is the BLOB
    (["--offline=true", str(CASE / "artifact")], 0),
    (["--offline=maybe", str(CASE / "artifact")], 2),
])
def test_verify_blob_offline_flag_forms(flag: list[str], code: int, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUF_ROOT", str(tmp_path))
    assert main([*ARGV[:-1], *flag]) == code
    err = capsys.readouterr().err
    assert ("Verified OK" in err) == (code == 0), err


def test_sign_refuses_a_private_repository_without_a_signing_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # the embedded public-good config would send the token to public good's Fulcio
    # beside this repository's trusted root: refused before anything is contacted
    from signer.services.tuf.instances import TufInstance, remember
    from signer.testing.tuf_repo import TufRepository, TufServer

    repo = TufRepository(tmp_path / "repo")
    repo.publish_targets({"trusted_root.json": (TRUST / "public-good-trusted_root.json")
                          .read_bytes()})
    server = TufServer(repo.directory)
    server.start()
    try:
        monkeypatch.setenv("TUF_ROOT", str(tmp_path / "cache"))
        monkeypatch.setenv("SIGSTORE_ID_TOKEN", "a.b.c")
        remember(tmp_path / "cache", TufInstance(server.url, repo.root_path.read_bytes()))
        image = "127.0.0.1:1/app@sha256:" + "a" * 64
        assert main(["sign", image]) == 1
        err = capsys.readouterr().err
        assert f"the TUF repository {server.url} publishes no signing config" in err
        assert "--signing-config" in err
        before = server.request_count
        # naming the services is enough (the registry is then what fails)
        assert main(["sign", "--fulcio-url", "http://127.0.0.1:1", "--rekor-url",
                     "http://127.0.0.1:1", image]) == 1
        assert "publishes no signing config" not in capsys.readouterr().err
        assert server.request_count == before + 2  # the trusted root still came from TUF
    finally:
        server.stop()
