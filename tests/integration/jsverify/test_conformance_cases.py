"""The bundle conformance corpus through sigstore-js: a sanity check of the harness.

Every case sigstore-js can express runs with the trust material, policy and artifact
its expected.json names, and must reach the expected outcome -- except the known
differences below, where sigstore-js reaches the other one (signer reaches the
expected outcome on all of them: tests/integration/bundle/test_conformance_bundles.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.bundle.conftest import BUNDLE_CASES, Case, load_case
from tests.sigstore_js import JsCheck, JsResult, SigstoreJs

pytestmark = pytest.mark.slow

# Message-signature cases whose artifact was never published: @sigstore/verify checks a
# message signature over the artifact's bytes and has no digest-only path.
NEEDS_THE_ARTIFACT = {
    "sgo-othername-san-email-identity_fail",
    "sgo-othername-san-scaffolding",
    "spy-bundle-v0.3-github-whl-prod",
    "spy-cpython-3.12.5-no-checkpoint_fail",
}

# Where sigstore-js 4.1.3 disagrees with the corpus (and so with signer).
KNOWN_DIFFERENCES = {
    # The trusted root's Rekor key has validFor without its required start; sigstore-js
    # reads a missing start as the beginning of time and accepts.
    "sc-trust-root-tlog-missing-validity-start_fail": "passes in sigstore-js",
    # A Rekor v1 bundle whose RFC 3161 timestamp predates the TSA certificate in the
    # trusted root (chain invalid at the signing time), while the SET's integrated time
    # is valid. sigstore-python and signer count only the timestamps that verify;
    # sigstore-js refuses a bundle with any timestamp that does not.
    "spy-tsa-rekor-v1-with-timestamp": "fails in sigstore-js: TIMESTAMP_ERROR",
}

CASES = [name for name in BUNDLE_CASES if name not in NEEDS_THE_ARTIFACT]


def _check(case: Case) -> JsCheck:
    e = case.expected
    artifact = case.path / e["artifact"] if e.get("artifact") else None
    identity = e.get("identity")
    regexp = bool(e.get("identity_is_regexp"))
    return JsCheck(
        case.path / "bundle.json", (case.path / e["trusted_root"]).resolve(),
        artifact=artifact, digest=None if artifact else e["artifact_digest"],
        identity=None if regexp else identity, identity_regexp=identity if regexp else None,
        issuer=e.get("issuer"), key=case.path / e["key"] if e["mode"] == "bundle-key" else None)


@pytest.fixture(scope="module")
def results(sigstore_js: SigstoreJs, conformance_dir: Path) -> dict[str, JsResult]:
    """sigstore-js's verdict on every case, from one node process."""
    verdicts = sigstore_js.verify_many([_check(load_case(name)) for name in CASES])
    return dict(zip(CASES, verdicts, strict=True))


def test_the_exclusions_name_real_cases() -> None:
    assert NEEDS_THE_ARTIFACT | set(KNOWN_DIFFERENCES) <= set(BUNDLE_CASES)
    assert all(not load_case(name).expected.get("artifact") for name in NEEDS_THE_ARTIFACT)


@pytest.mark.parametrize("name", CASES)
def test_case_in_sigstore_js(name: str, results: dict[str, JsResult]) -> None:
    result = results[name]
    expected = load_case(name).expect_pass != (name in KNOWN_DIFFERENCES)
    assert result.verified is expected, (KNOWN_DIFFERENCES.get(name), result)
    if not result.verified:
        assert result.error and result.message, result


def test_a_batch_and_single_runs_agree(sigstore_js: SigstoreJs,
                                       results: dict[str, JsResult]) -> None:
    """The batch mode is the command line's verdict (a sample, passing and failing)."""
    for name in ("sc-happy-path-v0.3", "sc-rekor2-dsse-happy-path",
                 "sc-managed-key-happy-path", "sc-checkpoint-bad-keyhint_fail"):
        check = _check(load_case(name))
        fields = {k: v for k, v in vars(check).items() if k not in ("bundle", "trusted_root")}
        single = sigstore_js.verify(check.bundle, check.trusted_root, **fields)
        assert single == results[name]
