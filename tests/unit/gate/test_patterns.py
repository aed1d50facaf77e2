"""Connaisseur's pattern matching and specificity order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from signer.gate.patterns import (
    PatternError,
    compile_pattern,
    connaisseur_name,
    more_specific,
    most_specific_rule,
)
from signer.reference import parse_reference

IMAGE = "index.docker.io/securesystemsengineering/sample:v1"


@pytest.mark.parametrize(("text", "name"), [
    ("nginx", "index.docker.io/library/nginx:latest"),
    ("docker.io/library/nginx:1.25", "index.docker.io/library/nginx:1.25"),
    ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io/o/r@sha256:" + "a" * 64),
    ("ghcr.io/o/r:1@sha256:" + "b" * 64, "ghcr.io/o/r:1@sha256:" + "b" * 64),
    ("localhost:5000/x", "localhost:5000/x:latest"),
])
def test_image_names_as_connaisseur_writes_them(text: str, name: str) -> None:
    assert connaisseur_name(parse_reference(text)) == name


@pytest.mark.parametrize(("pattern", "image", "matches"), [
    ("*:*", IMAGE, True),
    ("docker.io/securesystemsengineering/*:*", IMAGE, True),  # implicit leading *
    ("docker.io/securesystemsengineering/*", IMAGE, True),
    ("securesystemsengineering/sample", IMAGE, True),  # implicit * at both ends
    ("docker.io/other/*:*", IMAGE, False),
    ("*:v?", IMAGE, True),
    ("*:v[0-9]", IMAGE, True),
    ("*:v[!0-9]", IMAGE, False),
    ("*/{sample,other}:*", IMAGE, True),
    ("*/{nope,other}:*", IMAGE, False),
    ("*.*", IMAGE, True),  # '.' is literal, not a regex wildcard
    ("docker.io\\*", IMAGE, False),
])
def test_glob_matching(pattern: str, image: str, matches: bool) -> None:
    assert (compile_pattern(pattern).fullmatch(image) is not None) is matches


@pytest.mark.parametrize("pattern", ["*[abc", "{a,b", "*[!]"])
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)


@pytest.mark.parametrize(("winner", "loser"), [
    ("*/*", "*:*"),                        # more components
    ("*/*/*", "docker*/*"),                # more components, though shorter
    ("docker*/*", "*/*"),                  # longer common prefix in component 1
    ("*/sam*/*", "*/*/image:v1"),          # common prefix decides before length
    ("docker.io/*", "docker.i*/s*"),       # component 1 longer at equal prefix
    ("*:*", "*"),                          # longer component at equal prefix
    ("securesystemsengineering/sample:v*", "securesystemsengineering/sample:*"),
])
def test_specificity_order(winner: str, loser: str) -> None:
    image = "docker.io/securesystemsengineering/sample:v1"
    assert more_specific(winner, loser, image)
    assert not more_specific(loser, winner, image)


@dataclass(frozen=True)
class _Rule:
    pattern: str
    tag: str
    matcher: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", compile_pattern(self.pattern))


def test_most_specific_rule_and_ties() -> None:
    rules = [_Rule("*:*", "all"), _Rule("docker.io/*", "hub"), _Rule("*:*", "later")]
    assert most_specific_rule(rules, IMAGE).tag == "hub"  # type: ignore[union-attr]
    # identical patterns: the later rule wins, as in Connaisseur's pairwise comparison
    assert most_specific_rule(rules, "ghcr.io/a:1").tag == "later"  # type: ignore[union-attr]
    assert most_specific_rule([_Rule("quay.io/*", "q")], IMAGE) is None
