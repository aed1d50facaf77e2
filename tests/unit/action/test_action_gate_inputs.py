"""The gate-mode inputs: the policy and paths stay inside the workspace, the base ref
is never read as an option, sign/verify inputs are refused in gate mode and the gate
inputs in the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.action.gate_inputs import workspace_path
from signer.action.inputs import read_inputs
from signer.action.values import InputProblem


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "deploy").mkdir(parents=True)
    (root / "values.yaml").write_text("policy: []\n")
    (tmp_path / "outside.yaml").write_text("policy: []\n")
    (root / "deploy" / "out").symlink_to(tmp_path)
    return root


def gate_env(workspace: Path, **inputs: str) -> dict[str, str]:
    values = {"GITHUB_WORKSPACE": str(workspace), "INPUT_MODE": "gate",
              "INPUT_POLICY": "values.yaml"}
    for name, value in inputs.items():
        values["INPUT_" + name.upper()] = value
    return values


def problems(values: dict[str, str]) -> dict[str, str]:
    inputs, found = read_inputs(values)
    assert (inputs is None) == bool(found)
    return {p.name: p.message for p in found}


def test_valid_gate_inputs(workspace: Path) -> None:
    inputs, found = read_inputs(gate_env(workspace, paths="deploy\n values.yaml ,",
                                         changed_from="a" * 40))
    assert found == [] and inputs is not None and inputs.gate is not None
    gate = inputs.gate
    assert gate.policy.shown == "values.yaml"
    assert gate.policy.resolved == str((workspace / "values.yaml").resolve())
    assert [p.shown for p in gate.paths] == ["deploy", "values.yaml"]
    assert gate.changed_from == "a" * 40 and inputs.policy is None and inputs.images == ()


def test_paths_default_to_the_workspace(workspace: Path) -> None:
    inputs, _ = read_inputs(gate_env(workspace))
    assert inputs is not None and inputs.gate is not None
    assert [(p.shown, p.resolved) for p in inputs.gate.paths] == [
        (".", str(workspace.resolve()))]


@pytest.mark.parametrize(("value", "message"), [
    ("../outside.yaml", "is outside the workspace"),
    ("deploy/out/outside.yaml", "is outside the workspace"),  # through a symbolic link
    ("/etc/hostname", "is outside the workspace"),
    ("missing.yaml", "no such file or directory in the workspace: missing.yaml"),
    ("deploy", "deploy is not a file"),
])
def test_policy_must_be_a_file_in_the_workspace(workspace: Path, value: str,
                                                message: str) -> None:
    assert message in problems(gate_env(workspace, policy=value))["policy"]
    with pytest.raises(InputProblem):
        workspace_path("policy", value, workspace, file=True)


def test_every_bad_path_is_reported(workspace: Path) -> None:
    found = problems(gate_env(workspace, paths="deploy/out, nowhere\n.."))
    assert "nowhere" in found["paths"] or "outside" in found["paths"]
    inputs, every = read_inputs(gate_env(workspace, paths="deploy/out, nowhere\n.."))
    assert inputs is None
    assert len([p for p in every if p.name == "paths"]) == 3


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "-x", "main..evil", "a b", "a\nb",
                                 "HEAD~1:x", "ref^{tree}"])
def test_changed_from_is_a_plain_ref(workspace: Path, ref: str) -> None:
    assert "expected a git ref or commit" in problems(
        gate_env(workspace, changed_from=ref))["changed-from"]


def test_policy_is_required_and_sign_verify_inputs_are_refused(workspace: Path) -> None:
    found = problems(gate_env(workspace, policy="", images="ghcr.io/o/r:1",
                              certificate_identity="x", key="k"))
    assert found["policy"].startswith("required in gate mode")
    assert found["images"].startswith("not used in gate mode")
    assert found["certificate-identity"].startswith("not used in gate mode")
    assert found["key"].startswith("not used in gate mode")


def test_gate_inputs_are_refused_in_other_modes(workspace: Path) -> None:
    found = problems({"GITHUB_WORKSPACE": str(workspace), "INPUT_MODE": "verify",
                      "INPUT_IMAGES": "ghcr.io/o/r:1", "INPUT_POLICY": "values.yaml",
                      "INPUT_PATHS": "deploy", "INPUT_CHANGED_FROM": "main",
                      "GITHUB_REPOSITORY": "o/r"})
    assert {name: found[name] for name in ("policy", "paths", "changed-from")} == dict.fromkeys(
        ("policy", "paths", "changed-from"), "only used in gate mode")


def test_credentials_need_their_registry_in_gate_mode(workspace: Path) -> None:
    found = problems(gate_env(workspace, registry_username="u", registry_password="p"))
    assert found["registry"].startswith("required with registry-username")
    inputs, _ = read_inputs(gate_env(workspace, registry_username="u",
                                     registry_password="p", registry="ghcr.io"))
    assert inputs is not None and inputs.registry == "ghcr.io"
