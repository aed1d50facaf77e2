"""Connaisseur's own policy examples (its docs basics.md and validators/sigstore_cosign.md),
evaluated by signer gate with the results those docs state.

The examples are re-typed in Connaisseur 3's names (``trustRoots``, ``trustRoot``);
where the docs elide fields ("most fields have been omitted") the omitted ``type`` and
keys are filled in so that the file is complete.
"""

from __future__ import annotations

import pytest

from signer.gate.patterns import connaisseur_name, most_specific_rule
from signer.gate.policy import Policy, parse_policy
from signer.gate.verdict import Verdict, decide, trust_roots_to_check
from signer.reference import parse_reference
from tests.unit.gate.conftest import key_block


def _rule_for(policy: Policy, image: str) -> tuple[int | None, str | None, str | None]:
    """(rule index, validator, trust root) that apply to ``image``."""
    rule = most_specific_rule(policy.rules, connaisseur_name(parse_reference(image)))
    if rule is None:
        return None, None, None
    return rule.index, rule.validator, rule.options.trust_root


def test_basics_minimal_example_pattern_and_validator_matching() -> None:
    # basics.md, "Let's review the pattern and validator matching at a minimal example"
    policy = parse_policy(f"""\
application:
  validators:
  - name: default     # validator 1
    type: cosign
    trustRoots:
    - name: default   # key 1
      {key_block(6)}
  - name: myvalidator # validator 2
    type: cosign
    trustRoots:
    - name: default   # key 2
      {key_block(6)}
    - name: mykey     # key 3
      {key_block(6)}
  policy:
  - pattern: "*:*"                      # rule 1
  - pattern: "docker.io/myrepo/*:*"     # rule 2
    validator: myvalidator
  - pattern: "docker.io/myrepo/myimg:*" # rule 3
    validator: myvalidator
    with:
      trustRoot: mykey
""", "values.yaml")
    # "docker.io/superrepo/myimg:v1 -> rule 1 -> validator 1 (key 1)"
    assert _rule_for(policy, "docker.io/superrepo/myimg:v1") == (0, "default", "default")
    # "docker.io/myrepo/superimg:v1 -> rule 2 -> validator 2 (key 2)"
    assert _rule_for(policy, "docker.io/myrepo/superimg:v1") == (1, "myvalidator", "default")
    # "docker.io/myrepo/myimg:v1 -> rule 3 -> validator 2 (key 3)"
    assert _rule_for(policy, "docker.io/myrepo/myimg:v1") == (2, "myvalidator", "mykey")
    # the selected trust roots are the keys the docs name
    validator = policy.validator("myvalidator")
    assert trust_roots_to_check(validator, policy.rules[2].options) == ("mykey",)
    assert trust_roots_to_check(validator, policy.rules[1].options) == ("default",)


#: the allow and deny validators every "common example" of basics.md starts with
STATIC = """\
application:
  validators:
  - name: allow
    type: static
    approve: true
  - name: deny
    type: static
    approve: false
"""

FASTER = STATIC + """\
  - name: default
    type: cosign
    trustRoots:
    - name: default
      {key}
  - name: dockerhub_basics
    type: cosign
    trustRoots:
    - name: securesystemsengineering_official
      {key2}
  policy:
  - pattern: "*:*"
    validator: deny
  - pattern: "docker.io/myrepo/*:*"
  - pattern: "k8s.gcr.io/*:*"
    validator: allow
  - pattern: "docker.io/securesystemsengineering/*:*"
    validator: dockerhub_basics
    with:
      trustRoot: securesystemsengineering_official
"""


def _verdict(policy: Policy, image: str, valid: dict[str, int] | None = None) -> bool | None:
    rule = most_specific_rule(policy.rules, connaisseur_name(parse_reference(image)))
    if rule is None:
        return None
    return decide(policy.validator(rule.validator), rule.options, valid or {}).allowed


def test_only_validate_own_images_and_deny_all_others_faster() -> None:
    # basics.md, "Case: Only validate own images and deny all others (faster)"
    policy = parse_policy(FASTER.format(key=key_block(6), key2=key_block(6)), "values.yaml")
    # own images are checked against the default validator and its default key
    assert _rule_for(policy, "docker.io/myrepo/app:1.0") == (1, "default", "default")
    assert _verdict(policy, "docker.io/myrepo/app:1.0", {"default": 1}) is True
    assert _verdict(policy, "docker.io/myrepo/app:1.0", {}) is False
    # Kubernetes images are admitted without verification
    assert _verdict(policy, "k8s.gcr.io/kube-proxy:v1.28.0") is True
    # Connaisseur's own images need the securesystemsengineering_official key
    assert _rule_for(policy, "docker.io/securesystemsengineering/connaisseur:v3") == (
        3, "dockerhub_basics", "securesystemsengineering_official")
    # everything else is denied by the *:* rule, signed or not
    assert _verdict(policy, "nginx:1.25", {"default": 1}) is False
    assert _verdict(policy, "ghcr.io/someone/tool:2") is False


def test_deny_by_default_when_no_catch_all_rule() -> None:
    # basics.md: "The *:* rule could also have been omitted as Connaisseur denies
    # unmatched images."
    text = FASTER.format(key=key_block(6), key2=key_block(6)).replace(
        '  - pattern: "*:*"\n    validator: deny\n', "")
    policy = parse_policy(text, "values.yaml")
    assert _rule_for(policy, "nginx:1.25") == (None, None, None)
    assert _verdict(policy, "k8s.gcr.io/pause:3.9") is True


def test_directly_admit_own_images_and_deny_all_others() -> None:
    # basics.md, "Case: Directly admit own images and deny all others"
    policy = parse_policy(STATIC + """\
  policy:
  - pattern: "*:*"
    validator: deny
  - pattern: "docker.io/myrepo/*:*"
    validator: allow
  - pattern: "k8s.gcr.io/*:*"
    validator: allow
  - pattern: "docker.io/securesystemsengineering/*:*"
    validator: allow
""", "values.yaml")
    assert _verdict(policy, "docker.io/myrepo/app:1") is True
    assert _verdict(policy, "myrepo/app") is True  # Docker Hub spelled short
    assert _verdict(policy, "k8s.gcr.io/etcd:3.5") is True
    assert _verdict(policy, "docker.io/securesystemsengineering/testimage:co-signed") is True
    assert _verdict(policy, "docker.io/otherrepo/app:1") is False
    assert _verdict(policy, "quay.io/myrepo/app:1") is False


def test_only_docker_official_images_validated_others_allowed() -> None:
    # basics.md, "Case: Only validate Docker Hub official images and allow all others"
    policy = parse_policy(STATIC + f"""\
  - name: dockerhub_basics
    type: cosign
    trustRoots:
    - name: docker_official
      {key_block(6)}
    - name: securesystemsengineering_official
      {key_block(6)}
  policy:
  - pattern: "*:*"
    validator: allow
  - pattern: "docker.io/library/*:*"
    validator: dockerhub_basics
    with:
      trustRoot: docker_official
  - pattern: "k8s.gcr.io/*:*"
    validator: allow
  - pattern: "docker.io/securesystemsengineering/*:*"
    validator: dockerhub_basics
    with:
      trustRoot: securesystemsengineering_official
""", "values.yaml")
    # "nginx" is docker.io/library/nginx:latest: an official image, so it is verified
    assert _rule_for(policy, "nginx") == (1, "dockerhub_basics", "docker_official")
    assert _verdict(policy, "nginx", {}) is False
    assert _verdict(policy, "nginx", {"docker_official": 1}) is True
    # signed by the other trust root of the same validator is not enough
    assert _verdict(policy, "nginx", {"securesystemsengineering_official": 1}) is False
    assert _verdict(policy, "ghcr.io/x/y:1") is True


MULTI = """\
application:
  validators:
  - name: multicosigner
    type: cosign
    trustRoots:
    - name: alice
      {a}
    - name: bob
      {b}
    - name: charlie
      {c}
  policy:
  - pattern: "*:*"
    validator: multicosigner
    with:
      trustRoot: "*"
{extra}"""


def _multi(extra: str) -> Policy:
    return parse_policy(MULTI.format(a=key_block(6), b=key_block(6), c=key_block(6),
                                     extra=extra), "values.yaml")


SIGNERS = [(), ("alice",), ("bob",), ("alice", "bob"), ("alice", "charlie"),
           ("bob", "charlie"), ("alice", "bob", "charlie")]


@pytest.mark.parametrize(("extra", "admitted"), [
    # "As neither threshold nor required are specified, Connaisseur will require
    # signatures of all trust roots (alice, bob, and charlie)"
    ("", {("alice", "bob", "charlie")}),
    # "threshold: 2 ... valid signatures of two or more out of the three trust roots"
    ("      threshold: 2\n", {("alice", "bob"), ("alice", "charlie"), ("bob", "charlie"),
                              ("alice", "bob", "charlie")}),
    # "required: [alice, bob] ... only images with valid signatures of trust roots alice
    # and bob are admitted"
    ('      required: ["alice", "bob"]\n', {("alice", "bob"), ("alice", "bob", "charlie")}),
    # "threshold: 3, required: [alice, bob] ... at least 3 valid signatures are required
    # and alice and bob must be among those"
    ('      threshold: 3\n      required: ["alice", "bob"]\n', {("alice", "bob", "charlie")}),
])
def test_multi_signature_verification(extra: str, admitted: set[tuple[str, ...]]) -> None:
    # sigstore_cosign.md, "Multi-signature verification"
    policy = _multi(extra)
    for signers in SIGNERS:
        allowed = _verdict(policy, "docker.io/x/y:1", dict.fromkeys(signers, 1))
        assert allowed is (signers in admitted), (extra, signers)


def test_threshold_counts_trust_roots_not_signatures() -> None:
    # "two or more out of the three trust roots": two signatures by alice are one
    policy = _multi("      threshold: 2\n")
    assert _verdict(policy, "docker.io/x/y:1", {"alice": 2}) is False


def test_required_limits_which_trust_roots_are_checked() -> None:
    policy = _multi('      required: ["alice", "bob"]\n')
    validator = policy.validator("multicosigner")
    assert trust_roots_to_check(validator, policy.rules[0].options) == ("alice", "bob")
    policy = _multi('      threshold: 3\n      required: ["alice", "bob"]\n')
    assert trust_roots_to_check(validator, policy.rules[0].options) == (
        "alice", "bob", "charlie")


def test_a_cosign_validator_without_trust_roots_admits_nothing() -> None:
    """The parser refuses it; the verdict fails closed for a model built otherwise."""
    from signer.gate.policy import ALL_TRUST_ROOTS, RuleOptions, Validator

    empty = Validator("empty", "cosign", 1)
    assert not decide(empty, RuleOptions(), {}).allowed  # 'default' is not there
    # trustRoot "*" over no trust roots: a threshold of 0, which used to admit the image
    assert decide(empty, RuleOptions(trust_root=ALL_TRUST_ROOTS), {}) == Verdict(
        False, "validator 'empty' has no trust root to check")
