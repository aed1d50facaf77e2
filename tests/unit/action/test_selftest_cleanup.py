"""The selftest's cleanup step deletes exactly the package versions its run pushed.

The step's own bash (read from selftest.yml) runs against a stand-in ``gh`` that
serves a package's version list and records every call; ``jq`` is the real one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[3]
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
VERSIONS = [
    {"id": 1, "name": DIGEST, "metadata": {"container": {"tags": ["run-42"]}}},
    {"id": 2, "name": "sha256:" + "01" * 32,
     "metadata": {"container": {"tags": ["sha256-" + "ab" * 32 + ".sig"]}}},
    {"id": 3, "name": OTHER, "metadata": {"container": {"tags": ["run-41"]}}},
    {"id": 4, "name": "sha256:" + "02" * 32,
     "metadata": {"container": {"tags": ["sha256-" + "cd" * 32 + ".sig"]}}},
    {"id": 5, "name": "sha256:" + "03" * 32, "metadata": {"container": {"tags": []}}},
]


def cleanup_body() -> tuple[str, dict[str, str]]:
    workflow = YAML(typ="safe").load((ROOT / ".github/workflows/selftest.yml").read_text())
    step = workflow["jobs"]["cleanup"]["steps"][0]
    return step["run"], step["env"]


def run_cleanup(tmp_path: Path, image: str, digest: str, owner_type: str) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (tmp_path / "versions.json").write_text(json.dumps(VERSIONS))
    gh = bin_dir / "gh"
    gh.write_text(f"""#!/bin/bash
echo "$*" >> {calls}
case "$*" in
  "api users/"*" --jq .type") echo {owner_type} ;;
  "api --paginate "*) cat {tmp_path / "versions.json"} ;;
  "api --method DELETE "*) ;;
  *) echo "unexpected gh call: $*" >&2; exit 1 ;;
esac
""")
    gh.chmod(0o755)
    body, env = cleanup_body()
    assert set(env) == {"GH_TOKEN", "IMAGE", "DIGEST"}
    script = tmp_path / "cleanup.sh"
    script.write_text(body)
    completed = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GH_TOKEN": "x",
             "IMAGE": image, "DIGEST": digest},
        capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    return calls.read_text().splitlines()


def test_deletes_the_image_and_its_signature_of_this_run_only(tmp_path: Path) -> None:
    calls = run_cleanup(tmp_path, "ghcr.io/octo-org/app/signer-selftest:run-42", DIGEST,
                        "Organization")
    base = "orgs/octo-org/packages/container/app%2Fsigner-selftest/versions"
    assert calls == ["api users/octo-org --jq .type", f"api --paginate {base}",
                     f"api --method DELETE {base}/1", f"api --method DELETE {base}/2"]


def test_without_a_digest_only_the_run_tag_goes_and_user_packages_are_found(
        tmp_path: Path) -> None:
    calls = run_cleanup(tmp_path, "ghcr.io/octocat/app/signer-selftest:run-41", "", "User")
    base = "users/octocat/packages/container/app%2Fsigner-selftest/versions"
    assert calls[1:] == [f"api --paginate {base}", f"api --method DELETE {base}/3"]
