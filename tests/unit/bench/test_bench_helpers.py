"""The bench's own arithmetic: wait intervals subtracted once, caches emptied between
passes (so the figures it prints mean what their names say)."""

from __future__ import annotations

import pytest

from bench.bundles import _forget_parsed_material
from bench.harness import Row, format_table
from bench.sign import _WaitRecorder
from signer import certificates
from signer.verify import sct


def test_waits_are_a_union_clipped_to_the_window() -> None:
    recorder = _WaitRecorder()
    for start, end in [(1.0, 2.0), (1.5, 2.5), (3.0, 4.0), (0.0, 0.5), (9.0, 10.0)]:
        recorder.add(start, end)
    # [1, 2.5] overlapping pair counted once, [3, 4] clipped to 3.5, the rest outside
    assert recorder.waited(0.75, 3.5) == pytest.approx(1.5 + 0.5)
    assert recorder.waited(5.0, 6.0) == 0.0
    assert recorder.waited(1.2, 1.4) == pytest.approx(0.2)


def test_forget_parsed_material_empties_our_caches() -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"
    with pytest.raises(certificates.MalformedCertificateError):
        certificates.parse_pem_certificate(pem)  # failures are never cached
    cache = getattr(certificates, "_cache")  # noqa: B009
    cache[("pem", b"x")] = object()
    getattr(sct, "_ISSUER_KEY_HASHES")["k"] = b"v"  # noqa: B009
    _forget_parsed_material()
    assert not cache
    assert not getattr(sct, "_ISSUER_KEY_HASHES")  # noqa: B009


def test_table_has_ratio_against_the_peer() -> None:
    table = format_table([Row("thing", [2.0, 4.0, 3.0], [1.0, 1.0, 1.0], peer_name="peer")], 3)
    lines = table.splitlines()
    assert len(lines) == 3
    assert lines[2].split()[-1] == "3.00"
    assert "3.000 s" in lines[2] and "1.000 s" in lines[2]
