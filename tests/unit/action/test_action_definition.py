"""action.yml, the workflows and the README agree, and follow the security rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from signer.action.policy import GITHUB_ISSUER

ROOT = Path(__file__).resolve().parents[3]
FULL_SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


ACTION = load(ROOT / "action.yml")
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
README = (ROOT / "README.md").read_text()


def run_step() -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "run")
    return step


def test_every_input_reaches_the_script_through_env() -> None:
    env = run_step()["env"]
    for name in ACTION["inputs"]:
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert env.get(variable) == f"${{{{ inputs.{name} }}}}", name
    declared = {k for k in env if k.startswith("INPUT_")}
    assert len(declared) == len(ACTION["inputs"])


def _action_source() -> str:
    return "\n".join(path.read_text() for path in sorted((ROOT / "signer" / "action").glob("*.py")))


def test_every_input_is_read_by_the_entrypoint() -> None:
    source = _action_source()
    for name in ACTION["inputs"]:
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert f'"{name}"' in source or f'"{variable}"' in source, name


def test_entrypoint_is_a_thin_shim_over_the_package() -> None:
    import ast

    tree = ast.parse((ROOT / "entrypoint.py").read_text())
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Expr", "ImportFrom", "If"]  # docstring, import main, run it
    imported = tree.body[1]
    assert isinstance(imported, ast.ImportFrom) and imported.module == "signer.action.run"
    assert [alias.name for alias in imported.names] == ["main"]


def test_no_expression_inside_any_run_body() -> None:
    bodies = [s["run"] for s in ACTION["runs"]["steps"] if "run" in s]
    for workflow in WORKFLOWS:
        for job in load(workflow)["jobs"].values():
            bodies += [s["run"] for s in job.get("steps", []) if "run" in s]
    assert bodies
    assert [b for b in bodies if "${{" in b] == []


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    for workflow in WORKFLOWS:
        for job in load(workflow)["jobs"].values():
            uses += [s["uses"] for s in job.get("steps", []) if "uses" in s]
    remote = [u for u in uses if not u.startswith("./")]
    assert any(u.startswith("actions/setup-python@") for u in remote)
    assert [u for u in remote if not FULL_SHA.match(u)] == []


def test_workflows_grant_nothing_at_the_top_and_selftest_has_the_expected_jobs() -> None:
    for workflow in WORKFLOWS:
        document = load(workflow)
        assert document["permissions"] == {}, workflow.name
        for name, job in document["jobs"].items():
            assert "permissions" in job, f"{workflow.name}: {name}"
    selftest = load(ROOT / ".github" / "workflows" / "selftest.yml")["jobs"]
    assert selftest["sign-and-verify"]["permissions"]["id-token"] == "write"
    assert "id-token" not in selftest["no-id-token"]["permissions"]
    assert any(s.get("uses") == "./" for s in selftest["wrong-identity"]["steps"])


def test_install_step_uses_hash_locked_requirements_in_runner_temp() -> None:
    install = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "install")
    assert "--require-hashes" in install["run"]
    assert install["env"]["VENV_DIR"].startswith("${{ runner.temp }}")
    requirements = ROOT / ".github" / "action-requirements.txt"
    assert install["env"]["REQUIREMENTS"].endswith(".github/action-requirements.txt")
    pins = [line for line in requirements.read_text().splitlines()
            if line and not line.startswith(("#", " "))]
    assert pins and all("==" in pin for pin in pins)
    names = {pin.split("==")[0] for pin in pins}
    assert {"cryptography", "requests", "pyjwt", "pynacl", "rfc3161-client"} <= names


@pytest.mark.parametrize("section", ["inputs", "outputs"])
def test_readme_documents_every_input_and_output(section: str) -> None:
    for name in ACTION[section]:
        assert f"| `{name}` |" in README, f"{section}: {name} missing from README.md"


def test_declared_outputs_are_those_the_entrypoint_writes() -> None:
    source = _action_source()
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        assert f'"{name}":' in source, name
    assert GITHUB_ISSUER == "https://token.actions.githubusercontent.com"


def test_the_platform_check_and_the_readme_name_the_lock_platforms() -> None:
    lock = (ROOT / ".github" / "action-requirements.txt").read_text()
    line = next(x for x in lock.splitlines() if x.startswith("# platforms:"))
    platforms = line.split(":", 1)[1].split()
    assert set(platforms) == {"Linux-X64", "Linux-ARM64", "macOS-ARM64", "Windows-X64"}
    supported = README[README.index("### Supported runners"):README.index("### How the action")]
    for platform in platforms:
        assert f"| `{platform}` |" in supported, platform
    steps = ACTION["runs"]["steps"]
    assert steps[0]["id"] == "platform"  # before setup-python and pip
    assert "# platforms:" in steps[0]["run"]
    assert steps[0]["env"]["RUNNER_PLATFORM"] == "${{ runner.os }}-${{ runner.arch }}"
    assert run_step()["env"]["PYTHONUTF8"] == "1"


def test_selftest_covers_every_supported_runner_and_cleans_up() -> None:
    document = load(ROOT / ".github" / "workflows" / "selftest.yml")
    triggers = document[True] if True in document else document["on"]  # YAML 1.1 'on'
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    jobs = document["jobs"]
    same_repository = ("github.event_name != 'pull_request' || "
                       "github.event.pull_request.head.repo.full_name == github.repository")
    for name in ("verify-public", "sign-and-verify"):
        assert jobs[name]["if"] == same_repository, name
    assert jobs["verify-public"]["strategy"]["matrix"]["runner"] == [
        "ubuntu-latest", "ubuntu-24.04-arm", "macos-latest", "windows-latest"]
    verify = next(s for s in jobs["verify-public"]["steps"] if s.get("id") == "verify")
    assert verify["uses"].startswith("./")
    assert verify["with"]["certificate-identity"].startswith("https://github.com/")
    assert "@sha256:" in verify["with"]["images"]  # pinned: the identity is exact
    cleanup = jobs["cleanup"]
    assert set(cleanup["needs"]) == {"sign-and-verify", "no-id-token", "wrong-identity"}
    assert cleanup["if"].startswith("always()")
    assert cleanup["permissions"] == {"packages": "write"}


def test_every_output_is_written_on_every_run() -> None:
    """signer.action.report writes each output of action.yml (empty when a mode has no
    value for it), so that no output is left unset by some mode."""
    from signer.action.report import OUTPUTS

    assert sorted(OUTPUTS) == sorted(ACTION["outputs"])
