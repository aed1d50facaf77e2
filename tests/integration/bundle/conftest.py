"""Fixtures for the bundle integration tests: the conformance corpus and how to run a case."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.corpus import CONFORMANCE as CONFORMANCE_DIR

BUNDLE_CASES = sorted(p.name for p in (CONFORMANCE_DIR / "bundles").glob("*")
                      if (p / "expected.json").is_file())


@dataclass(frozen=True)
class Case:
    """One conformance case and the expectation in its expected.json."""

    name: str
    path: Path
    expected: dict[str, Any]

    @property
    def expect_pass(self) -> bool:
        return bool(self.expected["expect"] == "pass")

    def argv(self, form: str) -> list[str]:
        """``signer verify-blob`` arguments for this case; form is "file" or "digest"."""
        e = self.expected
        argv = ["verify-blob", "--bundle", str(self.path / "bundle.json"),
                "--trusted-root", str((self.path / e["trusted_root"]).resolve())]
        if e["mode"] == "bundle-key":
            argv += ["--key", str(self.path / e["key"])]
        elif e.get("identity") is None:
            # the case has no identity to check (it fails before identity matters)
            argv += ["--certificate-identity-regexp", ".*",
                     "--certificate-oidc-issuer-regexp", ".*"]
        elif e.get("identity_is_regexp"):
            argv += ["--certificate-identity-regexp", e["identity"],
                     "--certificate-oidc-issuer", e["issuer"]]
        else:
            argv += ["--certificate-identity", e["identity"],
                     "--certificate-oidc-issuer", e["issuer"]]
        if form == "file":
            argv.append(str(self.path / e["artifact"]))
        else:
            argv += ["--digest", e["artifact_digest"]]
        return argv

    def forms(self) -> list[str]:
        """Both input forms where the artifact exists, else only the digest."""
        return ["file", "digest"] if self.expected.get("artifact") else ["digest"]


def load_case(name: str) -> Case:
    """Read one case of the bundles corpus."""
    path = CONFORMANCE_DIR / "bundles" / name
    return Case(name, path, json.loads((path / "expected.json").read_text()))


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The corpus root; skip when it is not present on this machine."""
    if not (CONFORMANCE_DIR / "bundles").is_dir():
        pytest.fail(f"conformance corpus not found at {CONFORMANCE_DIR}")
    return CONFORMANCE_DIR
