"""Issue 8.3: structural mutations (hypothesis) of real bundles and signature layers:
a random subtree of a valid bundle replaced by random JSON, or a random annotation
of a valid ``.sig`` layer replaced by random text or JSON, must end in a failed check
or a one-line error -- never another exception -- and never verify unless unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.cli.main import main
from signer.errors import Error
from signer.formats.legacy import SignatureLayer
from tests.hardening.test_hostile_parsers import json_values
from tests.integration.bundle.conftest import load_case as load_bundle_case
from tests.unit.verify.cases import image_cases
from tests.unit.verify.test_conformance_pure import _policy, _trust

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUNDLE_CASES = ["sc-happy-path-v0.3", "sc-rekor2-dsse-happy-path", "sc-managed-key-happy-path",
                "sgo-sigstorejs-1.3.0-provenance", "spy-tsa-rekor-v1-with-timestamp"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(doc)
    target = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copied


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def test_bundle_subtrees_replaced_by_random_json(tmp_path: Path) -> None:
    cases = [load_bundle_case(name) for name in BUNDLE_CASES]
    docs = [json.loads((case.path / "bundle.json").read_bytes()) for case in cases]
    paths = [_paths(doc) for doc in docs]

    @SETTINGS
    @given(which=st.integers(0, len(cases) - 1), pick=st.integers(0, 10_000),
           value=json_values)
    def check(which: int, pick: int, value: Any) -> None:
        case, doc = cases[which], docs[which]
        path = paths[which][pick % len(paths[which])]
        mutated = _replace(doc, path, value)
        bundle = tmp_path / "bundle.json"
        bundle.write_text(json.dumps(mutated))
        argv = case.argv("digest")
        argv[argv.index("--bundle") + 1] = str(bundle)
        code, err = _run(argv)
        assert "internal error" not in err, (path, value, err)
        if code == 0:  # accepted: only if the verified content did not change
            digest_obj = mutated.get("messageSignature", {}).get("messageDigest") \
                if isinstance(mutated.get("messageSignature"), dict) else None
            kept = digest_obj.get("digest") if isinstance(digest_obj, dict) else None
            original = doc.get("messageSignature", {}).get("messageDigest", {}).get("digest")
            # messageDigest is informative: absent/odd is fine while its digest is unchanged
            no_digest = path[:2] == ("messageSignature", "messageDigest") and \
                kept in (None, original)
            # a managed-key bundle's publicKey only names the key; the key is --key
            key_hint = path[:2] == ("verificationMaterial", "publicKey") and \
                case.expected["mode"] == "bundle-key"
            assert mutated == doc or no_digest or key_hint or path[-1:] in (
                ("hint",), ("keyid",), ("timestampVerificationData",)) \
                or "rfc3161Timestamps" in path or ("x509CertificateChain" in path[:3]
                                                   and path[3:4] != (0,)), (path, value)
        else:
            assert code in (1, 12) and sum(
                line.startswith("Error:") for line in err.splitlines()) == 1, err

    check()


def test_layer_annotations_replaced_by_random_values() -> None:
    cases = [c for c in image_cases() if c.expect_pass]

    @SETTINGS
    @given(which=st.integers(0, len(cases) - 1), key_pick=st.integers(0, 50),
           value=st.text(max_size=300) | json_values.map(json.dumps))
    def check(which: int, key_pick: int, value: str) -> None:
        from signer.verify.verifier import verify_signatures

        case = cases[which]
        layer = case.layers[0]
        keys = sorted(layer.annotations)
        key = keys[key_pick % len(keys)]
        mutated = SignatureLayer(layer.payload, layer.media_type,
                                 {**layer.annotations, key: value})
        try:
            results = verify_signatures([mutated], case.digest, _trust(case), _policy(case))
        except Error:
            return
        for result in results:
            assert "\n" not in result.reason
            if result.ok:  # the value must be one the verifier does not rely on
                assert value == layer.annotations[key] or key.endswith(
                    ("/chain", "/rfc3161timestamp")) or not key.startswith(
                    ("dev.cosignproject", "dev.sigstore")), (case.name, key, value)

    check()
