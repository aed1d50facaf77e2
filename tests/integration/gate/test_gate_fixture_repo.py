"""``signer gate`` over the fixture repository: each image's verdict, the trust roots
that signed it and every file:line naming it, against the real registry and the local
Sigstore stack; ``--changed-from``; the throughput figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gate.conftest import FixtureRepo

pytestmark = pytest.mark.slow

#: valid signatures one signing leaves: signer signs in both formats by default (a .sig
#: layer and a bundle referrer), and the gate counts every valid signature
PER_SIGNING = 2


def gate(repo: FixtureRepo, *paths: str, extra: tuple[str, ...] = (),
         cwd: Path | None = None, stack_root: bool = True,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m signer gate`` against the fixture registry (and, unless
    ``stack_root`` is False, with the local stack's trusted root as the base trust)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("COSIGN_REPOSITORY", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE")}
    environment.update(env or {})
    trust = ("--trusted-root", str(repo.trusted_root)) if stack_root else ()
    return subprocess.run(
        [sys.executable, "-m", "signer", "gate", "--policy", str(repo.policy),
         *trust, "--insecure-registry", repo.registry, *extra, *paths],
        capture_output=True, text=True, timeout=300, check=False,
        cwd=cwd or repo.root, env=environment, stdin=subprocess.DEVNULL)


def _by_image(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["image"]: row for row in document["images"]}


def test_every_verdict_and_location(fixture_repo: FixtureRepo) -> None:
    repo = fixture_repo
    result = gate(repo, ".", extra=("--output", "json"))
    assert result.returncode == 1, result.stderr
    rows = _by_image(json.loads(result.stdout))

    def row(name: str, form: str = "tag") -> dict[str, Any]:
        ref = repo.images[name]
        key = (f"{ref.repository_name}:v1" if form == "tag"
               else f"{ref.repository_name}@{repo.digests[name]}")
        return rows[key]

    def places(entry: dict[str, Any]) -> list[str]:
        return sorted(f"{loc['file']}:{loc['line']}" for loc in entry["locations"])

    app = row("app")
    assert app["result"] == "pass", app
    assert app["digest"] == repo.digests["app"]
    assert app["rule"]["pattern"].endswith("/gate/app*") and app["validator"] == "keys"
    assert app["signatures"] == {"alice": PER_SIGNING, "bob": PER_SIGNING}
    assert places(app) == ["./.github/workflows/ci.yml:10", "./Dockerfile:2",
                           "./deploy/app.yaml:13"]

    api = row("api")
    assert api["result"] == "fail" and api["signatures"] == {"alice": PER_SIGNING, "bob": 0}
    assert "missing required signatures from 'bob'" in api["reason"]
    assert places(api) == ["./deploy/app.yaml:10"]

    for entry, line in ((row("web"), "./compose.yaml:3"),
                        (row("web", "digest"), "./deploy/app.yaml:28")):
        assert entry["result"] == "pass", entry
        assert entry["validator"] == "default" and entry["signatures"] == {"default": PER_SIGNING}
        assert places(entry) == [line]

    fork = row("fork")
    assert fork["result"] == "fail" and fork["signatures"] == {"default": 0}
    assert "source repository 'https://github.com/octo-org/octo-repo'" in fork["reason"]
    assert places(fork) == ["./.github/workflows/ci.yml:5"]

    mail = row("mail")
    assert mail["result"] == "fail" and "identity" in mail["reason"]
    assert places(mail) == ["./compose.yaml:5"]

    unsigned = row("unsigned")
    assert unsigned["result"] == "fail" and "no signatures found" in unsigned["reason"]
    assert places(unsigned) == ["./Dockerfile:4"]  # the ConfigMap's string is not a deployment

    tool = row("tool")
    assert tool["result"] == "warn" and tool["rule"]["mode"] == "warn"
    assert places(tool) == ["./.github/workflows/ci.yml:8"]

    pause = rows["registry.k8s.io/pause:3.9"]
    assert pause["result"] == "pass" and pause["validator"] == "allow"
    assert pause["digest"] is None  # a static validator needs no registry

    redis = rows["index.docker.io/library/redis:7"]
    assert redis["result"] == "fail" and redis["validator"] == "deny"
    assert redis["rule"]["pattern"] == "*:*"

    later = next(r for r in rows.values() if r["result"] == "unresolved")
    assert later["image"].endswith(":${APP_TAG}")
    assert "${APP_TAG} has no default" in later["reason"]
    assert places(later) == ["./compose.yaml:9"]
    prov, noprov = row("prov"), row("noprov")
    assert prov["result"] == "pass", prov
    assert prov["signatures"] == {"default": PER_SIGNING}
    assert prov["attestations"] == [{"predicateType": "https://slsa.dev/provenance/v1",
                                     "trustRoot": "default", "verified": 1, "reason": ""}]
    assert places(prov) == ["./deploy/attested.yaml:8"]
    assert noprov["result"] == "fail" and noprov["signatures"] == {"default": PER_SIGNING}
    assert noprov["attestations"][0]["verified"] == 0
    assert noprov["reason"] == ("no https://slsa.dev/provenance/v1 attestation by trust root "
                                "'default': no verified attestation of this type")
    assert places(noprov) == ["./deploy/attested.yaml:10"]

    assert len(rows) == 13
    assert "13 images in 15 references: 5 passed, 6 refused, 1 warned, 1 unresolved" in \
        result.stderr


def test_table_output_names_each_location(fixture_repo: FixtureRepo) -> None:
    result = gate(fixture_repo, ".")
    assert result.returncode == 1
    api = str(fixture_repo.images["api"]).replace(fixture_repo.registry + "/", "")
    block = result.stdout.split("FAIL       ")[1:]
    text = next(b for b in block if api.split(":")[0] in b.splitlines()[0])
    assert "missing required signatures from 'bob'" in text
    assert "at ./deploy/app.yaml:10 (kubernetes)" in text


def test_github_output_annotates_each_line_and_writes_the_summary(
        fixture_repo: FixtureRepo, tmp_path: Path) -> None:
    repo = fixture_repo
    summary = tmp_path / "summary.md"
    env_extra = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(repo.root)}
    result = gate(repo, ".", extra=("--output", "github"), env=env_extra)
    assert result.returncode == 1, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    api = repo.images["api"].repository_name
    assert (f"::error title=signer gate,file=deploy/app.yaml,line=10::{api}:v1 refused: "
            "missing required signatures from 'bob'") in commands
    tool = repo.images["tool"].repository_name
    assert any(c.startswith("::warning title=signer gate,file=.github/workflows/ci.yml,"
                            f"line=8::{tool}:v1 would be refused") for c in commands)
    # one annotation per line naming an image that does not pass: api, fork, mail,
    # unsigned, redis, noprov (refused), APP_TAG (unresolved), tool (warned)
    assert len(commands) == 8
    assert {c.split("::")[1].split(" ")[0] for c in commands} == {"error", "warning"}
    text = summary.read_text()
    assert text.startswith("### signer gate\n") and text.count("\n| ") == 14  # header + 13
    assert "`deploy/app.yaml:10`" in text


def test_only_passing_and_warning_images_exit_zero(fixture_repo: FixtureRepo,
                                                   tmp_path: Path) -> None:
    repo = fixture_repo
    ok = tmp_path / "ok.yaml"
    ok.write_text(f"""\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: {repo.images["app"]}
  - image: {repo.images["web"]}
  - image: {repo.images["tool"]}
  - image: registry.k8s.io/pause:3.9
""")
    result = gate(repo, str(ok), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed, 0 refused, 1 warned" in result.stderr


def test_host_overrides_replace_the_base_trust(fixture_repo: FixtureRepo,
                                               tmp_path: Path) -> None:
    """Without --trusted-root the base trust is public good (through TUF; in the tests a
    local stand-in serving the public-good root): the keyless validator still
    verifies through its host.fulcioCert/rekorPubkey/ctLogPubkey (the stack's), while
    the key validator, which has no host section, cannot check the stack's Rekor SET."""
    repo = fixture_repo
    pod = tmp_path / "pod.yaml"
    pod.write_text(f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                   f"  - image: {repo.images['web']}\n  - image: {repo.images['app']}\n")
    result = gate(repo, str(pod), extra=("--output", "json"), cwd=tmp_path, stack_root=False)
    rows = _by_image(json.loads(result.stdout))
    web = rows[f"{repo.images['web'].repository_name}:v1"]
    app = rows[f"{repo.images['app'].repository_name}:v1"]
    assert web["result"] == "pass", web
    assert app["result"] == "fail" and app["signatures"] == {"alice": 0, "bob": 0}, app
    assert "threshold not reached: 0 of 2" in app["reason"]
    assert all("log" in why for why in app["trustRootReasons"].values()), app
    assert result.returncode == 1


def test_changed_from_limits_the_run_to_changed_files(fixture_repo: FixtureRepo,
                                                      tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["cp", "-r", str(fixture_repo.root), str(repo)], check=True)

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                       cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("checkout", "-q", "-b", "change")
    compose = repo / "compose.yaml"
    compose.write_text(compose.read_text().replace("redis:7", "redis:8"))
    git("commit", "-q", "-am", "bump redis")
    result = gate(fixture_repo, ".", extra=("--changed-from", "main", "--output", "json"),
                  cwd=repo)
    files = {loc["file"] for row in json.loads(result.stdout)["images"]
             for loc in row["locations"]}
    assert files == {"./compose.yaml"}, result.stderr
    result = gate(fixture_repo, ".", extra=("--changed-from", "no-such-ref"), cwd=repo)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: --changed-from: git merge-base failed")


def test_images_per_second_in_one_call(fixture_repo: FixtureRepo,
                                       tmp_path: Path) -> None:
    """The figure asked for: the whole fixture repository in one call, and a repository
    with 200 references to 50 distinct images (one registry round trip set per image)."""
    started = time.perf_counter()
    result = gate(fixture_repo, ".")
    seconds = time.perf_counter() - started
    assert result.returncode == 1
    print(f"\nfixture repository: 13 images in {seconds:.2f} s "
          f"({13 / seconds:.1f} images/s, one process)")
