"""The inputs of the action's gate mode (layer L5): ``policy``, ``paths`` and
``changed-from``, each refused with an :class:`InputProblem` naming it.

The policy and every path must be inside the workspace (the checkout being gated):
the gate reads them, and a path that leaves the workspace -- by ``..``, an absolute
path or a symbolic link -- is refused rather than read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from signer.action.values import InputProblem, input_value

#: the gate-mode inputs, refused in the other modes
GATE_INPUTS = ("policy", "paths", "changed-from")
#: sign/verify inputs (empty by default) that mean nothing in gate mode: the policy
#: file says which images need which signatures
NOT_FOR_GATE = (
    "images", "digest", "push-from", "key", "key-password", "annotations", "fulcio-url",
    "rekor-url", "timestamp-server-url", "signing-config", "identity-token",
    "certificate-identity", "certificate-identity-regexp",
    "certificate-oidc-issuer", "certificate-oidc-issuer-regexp", "source-repository",
    "source-ref", "signer-workflow", "certificate-github-workflow-trigger",
    "certificate-github-workflow-sha", "certificate-github-workflow-name",
    "certificate-github-workflow-repository", "certificate-github-workflow-ref",
    "public-key",
)
#: where ``paths`` splits: one path per line, or comma-separated
PATH_SEPARATORS = re.compile(r"[\n,]+")
#: a git ref or commit: no white space or controls, not an option, no range
_GIT_REF = re.compile(r"^[^\s\x00-\x1f\x7f~^:?*\[\\-][^\s\x00-\x1f\x7f~^:?*\[\\]*$")


@dataclass(frozen=True)
class GatePath:
    """A path inside the workspace: as the workflow wrote it, and resolved."""

    shown: str
    resolved: str


@dataclass(frozen=True)
class GateInputs:
    """What gate mode checks: the policy file, the paths searched, the base ref."""

    workspace: str
    policy: GatePath
    paths: tuple[GatePath, ...]
    changed_from: str | None = None


def workspace_path(name: str, value: str, workspace: Path, *, file: bool = False) -> GatePath:
    """``value`` (relative to the workspace, or absolute) resolved, symbolic links
    included; raises :class:`InputProblem` unless it exists inside the workspace (and,
    with ``file``, is a file)."""
    root = os.path.realpath(workspace)
    resolved = os.path.realpath(os.path.join(root, value))
    if os.path.commonpath([root, resolved]) != root:
        raise InputProblem(name, f"{value!r} is outside the workspace ({workspace}); "
                           "give a path in the checked-out repository")
    if not os.path.exists(resolved):
        raise InputProblem(name, f"no such file or directory in the workspace: {value}")
    if file and not os.path.isfile(resolved):
        raise InputProblem(name, f"{value} is not a file")
    shown = os.path.relpath(resolved, root).replace(os.sep, "/")
    return GatePath(shown, resolved)


def read_gate_inputs(env: Mapping[str, str], mode: str, workspace: Path
                     ) -> tuple[GateInputs | None, list[InputProblem]]:
    """The gate inputs in gate mode (None in the others), and every problem found:
    a gate input given in another mode, a sign/verify input given in gate mode, a
    missing or outside policy, a bad path, a ref git would misread."""
    problems: list[InputProblem] = []
    if mode != "gate":
        problems += [InputProblem(name, "only used in gate mode")
                     for name in GATE_INPUTS if input_value(env, name)]
        return None, problems
    problems += [InputProblem(name, "not used in gate mode: the policy file says which "
                              "images need which signatures, and the images come from "
                              "paths")
                 for name in NOT_FOR_GATE if env.get("INPUT_" + name.upper().replace("-", "_"),
                                                     "").strip()]
    policy: GatePath | None = None
    raw_policy = input_value(env, "policy")
    if not raw_policy:
        problems.append(InputProblem("policy", "required in gate mode: the Connaisseur "
                                     "values.yaml (or its validators and policy sections)"))
    else:
        try:
            policy = workspace_path("policy", raw_policy, workspace, file=True)
        except InputProblem as problem:
            problems.append(problem)
    paths: list[GatePath] = []
    for raw in (part.strip() for part in PATH_SEPARATORS.split(env.get("INPUT_PATHS", ""))):
        if not raw:
            continue
        try:
            paths.append(workspace_path("paths", raw, workspace))
        except InputProblem as problem:
            problems.append(problem)
    if not paths and not any(p.name == "paths" for p in problems):
        paths.append(workspace_path("paths", ".", workspace))
    changed_from = input_value(env, "changed-from") or None
    if changed_from is not None and (not _GIT_REF.match(changed_from)
                                     or ".." in changed_from):
        problems.append(InputProblem("changed-from", f"expected a git ref or commit (the "
                                     f"pull request's base), got {changed_from!r}"))
    if problems or policy is None:
        return None, problems
    return GateInputs(str(workspace), policy, tuple(paths), changed_from), []
