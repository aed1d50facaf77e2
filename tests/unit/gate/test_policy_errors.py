"""Bad policy files: one line naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.gate.policy import PolicyError, load_policy, parse_policy
from tests.unit.gate.conftest import key_block

COSIGN = f"""\
validators:
- name: default
  type: cosign
  trustRoots:
  - name: default
    {key_block(4)}
  - name: ci
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: "^https://github\\\\.com/octo/"
      github:
        repository: octo/app
        ref: refs/heads/main
policy:
- pattern: "*:*"
"""


def _error(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "gate.yaml")
    message = info.value.message
    assert "\n" not in message
    return message


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_valid_policy_bare_sections_and_extensions() -> None:
    policy = parse_policy(COSIGN, "gate.yaml")
    ci = policy.validator("default").trust_root("ci")
    assert ci is not None and ci.keyless is not None
    assert ci.keyless.build.source_repository == "https://github.com/octo/app"
    assert ci.keyless.build.source_ref == "refs/heads/main"
    assert ci.keyless.build.signer_workflow is None and ci.keyless.github == {}
    assert policy.rules[0].validator == "default"
    assert policy.rules[0].options.trust_root == "default"
    assert policy.rules[0].options.verify_tlog is True


@pytest.mark.parametrize(("change", "needle", "expected"), [
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  validator: nope\n',
     "policy[0].validator: unknown validator 'nope'"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    trustRoot: nope\n',
     "policy[0].with.trustRoot: unknown trust root 'nope' of validator 'default'"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    trustRoot: "*"\n    required: [x]\n',
     "policy[0].with.required: unknown trust root 'x'"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    trustRoot: "*"\n    threshold: 3\n',
     "policy[0].with.threshold: 3 is more than the 2 trust roots"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    trust_root: ci\n',
     "policy[0].with.trust_root: unknown key"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    mode: loud\n',
     "policy[0].with.mode: unknown mode 'loud'"),
    ('- pattern: "*:*"\n', '- pattern: "*:*"\n  with:\n    attestations:\n'
     '    - predicateType: https://slsa.dev/provenance/v1\n      trustRoot: nobody\n',
     "policy[0].with.attestations[0].trustRoot: unknown trust root 'nobody'"),
    ('- pattern: "*:*"\n', '- pattern: "*[:*"\n', "policy[0].pattern: unclosed '['"),
    ('subjectRegex: "^https://github\\\\.com/octo/"', 'subjectRegex: "(unclosed"',
     "validators[0].trustRoots[1].keyless.subjectRegex: invalid regular expression"),
    ("  - name: ci\n", "  - name: default\n",
     "validators[0].trustRoots[1].name: duplicate trust root name 'default'"),
    ("  type: cosign\n", "  type: cosign\n  colour: blue\n",
     "validators[0].colour: unknown key"),
    ("        ref: refs/heads/main\n", "        branch: main\n",
     "validators[0].trustRoots[1].keyless.github.branch: unknown key"),
    ("        repository: octo/app\n", "        repository: octo/app/sub\n",
     "validators[0].trustRoots[1].keyless.github.repository: source repository"),
    ("        repository: octo/app\n", "        workflow: octo\n",
     "validators[0].trustRoots[1].keyless.github.workflow: signer workflow 'octo'"),
])
def test_errors_name_file_line_and_key(change: str, needle: str, expected: str) -> None:
    assert change in COSIGN
    text = COSIGN.replace(change, needle)
    message = _error(text)
    assert message.startswith("gate.yaml:"), message
    assert expected in message, message
    key = expected.split(":")[0].split(".")[-1].split("[")[0]
    line = int(message.split(":")[1])
    # the line named is the line of that key (or of its mapping when the key is missing)
    assert key in text.splitlines()[line - 1] or line == _line_of(text, "- pattern"), (
        message, text.splitlines()[line - 1])


def test_duplicate_validator_and_missing_sections() -> None:
    assert "validators[1].name: duplicate validator name 'a'" in _error(
        "validators:\n- {name: a, type: static, approve: true}\n"
        "- {name: a, type: static, approve: false}\npolicy:\n- pattern: '*'\n  validator: a\n")
    assert "policy: is missing" in _error("validators: []\n")
    assert "application.validators: is missing" in _error("application:\n  policy: []\n")
    assert "policy: has no rules" in _error("validators: []\npolicy: []\n")
    message = _error("validators:\n- a\n- b: [\n")
    assert message.startswith("gate.yaml:") and "not valid YAML" in message
    assert "must be a mapping" in _error("- just\n- a list\n")


def test_rule_without_validator_needs_a_default_validator() -> None:
    message = _error("validators:\n- {name: allow, type: static, approve: true}\n"
                     "policy:\n- pattern: '*:*'\n")
    assert message.startswith("gate.yaml:4: policy[0].validator: unknown validator 'default' "
                              "(no validator given: 'default' is used)")


def test_key_must_be_a_pem_public_key_and_kms_is_named() -> None:
    base = "validators:\n- name: default\n  type: cosign\n  trustRoots:\n  - name: default\n"
    rules = "policy:\n- pattern: '*'\n"
    assert "gate.yaml:6: validators[0].trustRoots[0].key: not a PEM public key" in _error(
        base + "    key: hello\n" + rules)
    assert "KMS key references" in _error(base + "    key: k8s://ns/secret\n" + rules)
    assert "needs exactly one of key and keyless" in _error(
        base + "    keyless: {issuer: a, subject: b}\n    key: x\n" + rules)
    assert "needs exactly one of subject and subjectRegex" in _error(
        base + "    keyless: {issuer: a}\n" + rules)


def test_load_policy_names_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))
